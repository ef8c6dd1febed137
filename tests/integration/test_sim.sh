#!/usr/bin/env bash
# A small region-shift scenario, in-process and over DTLS against a real
# mfl-aggregator: both modes give the same per-round accuracy (devices reach
# the server in the same seeded order), and so does a one-thread run;
# federated learning lifts the worst region well above the frozen model;
# the network run's counts match what the aggregator itself logged and
# stored; the outputs (CSV, JSON, PNG, `mfl-sim report`) are there and
# consistent; bad scenario values get a specific error. And what makes runs
# trustworthy: seeds give independent populations (participation, arrival
# order), the base model is cached under the inputs it was made from and
# trained again when they change, every run saves its resolved scenario
# (which repeats the run exactly), and a directory holding a previous run
# is refused unless --replace.
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
# the label-free baselines undo most of a contrast and brightness shift (the
# bright region) without learning; federated learning on recalibrated
# backbones does at least as well as on the base one
for k in ("standardized", "recalibrated"):
    assert f[k]["worst"] >= fz["worst"] + 10, (k, fz["worst"], f[k]["worst"])
    assert f[k]["accepted"] == 0 and f[k]["bytes_up"] == 0, f[k]
assert f["federated-recal"]["mean"] >= f["recalibrated"]["mean"] + 2, f["federated-recal"]
assert f["oracle-recal"]["worst"] >= f["recalibrated"]["worst"] + 3, f["oracle-recal"]
# personalized devices choose a new head only when it is right more often on
# their few held-out samples (here 2 of 10): at worst about their recalibrated start
assert f["personalized"]["worst"] >= fz["worst"] + 10, f["personalized"]
assert f["personalized"]["mean"] >= f["frozen"]["mean"], f["personalized"]
# tuning the feature layer's biases on top of recalibration: still well
# above frozen, and not a no-op (the devices' biases moved their features)
for k, twin in (("local-tuned", "local-recal"), ("federated-tuned", "federated-recal")):
    assert f[k]["worst"] >= fz["worst"] + 10, f[k]
    assert f[k]["accuracy"] != f[twin]["accuracy"], (k, f[k], f[twin])
assert fed["accepted"] > 0 and fed["lost"] > 0, fed  # dropout loses some updates
assert s["run"]["mode"] == "network" and s["run"]["devices"] == 40
assert abs(s["checks"]["federated"]["worst_gain_over_frozen"] - (fed["worst"] - fz["worst"])) < 0.01
PY

# what the simulator counted is what the aggregator logged and stored
for k in federated fair federated-recal personalized federated-tuned; do
  csv_accepted=$(awk -F, -v k=$k '$1 == k { n += $(NF-2) } END { print n }' net/rounds.csv)
  log_accepted=$(grep -c "event=update_accepted" net/$k/aggregator.log || true)
  [ "$csv_accepted" = "$log_accepted" ] || fail "$k: simulator counted $csv_accepted accepted, aggregator logged $log_accepted"
  csv_version=$(awk -F, -v k=$k '$1 == k { v = $3 } END { print v }' net/rounds.csv)
  db_version=$(sqlite3 net/$k/data/state.db "SELECT max(version) FROM models")
  [ "$csv_version" = "$db_version" ] || fail "$k: final version $csv_version, aggregator stored $db_version"
done

# before any learning, every personalized device uses the model exactly as shipped
diff <(awk -F, '$1 == "frozen" && $2 == 0' inproc/rounds.csv | cut -d, -f4-10) \
     <(awk -F, '$1 == "personalized" && $2 == 0' inproc/rounds.csv | cut -d, -f4-10) > /dev/null ||
  fail "personalized devices did not start from the shipped head"

# with every device on the home sensor there is nothing to undo: the
# label-free baselines stay within 2 points of frozen in every region (their
# statistics come from 16 of a device's images, not from the maker's 2,000)
"$SIM" "${small[@]}" --rounds 1 --set partition=iid --set strategies=frozen,standardized,recalibrated \
  --out iid > /dev/null 2>&1 || fail "iid run"
awk -F, '$2 == 1 { for (i = 4; i <= 7; i++) acc[$1, i] = $i }
  END { for (k in acc) { split(k, p, SUBSEP); d = acc[p[1], p[2]] - acc["frozen", p[2]]
        if (d > 2 || d < -2) { print p[1], "region", p[2] - 3, "moved", d; bad = 1 } } exit bad }' iid/rounds.csv ||
  fail "standardisation or recalibration moved a home-sensor run"

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
"$SIM" --set strategies=frozen,bogus 2> bad.txt && fail "unknown strategy accepted"
grep -q 'unknown strategy "bogus" (known: frozen standardized' bad.txt || fail "unclear error: $(cat bad.txt)"
# a base with no convolution cannot be recalibrated: said before it is trained
"$SIM" --set base_arch=d16,d10 --out noconv 2> bad.txt > /dev/null && fail "recalibration without a convolution"
grep -q "has no convolution to recalibrate" bad.txt && ! grep -q "base model: training" bad.txt ||
  fail "unclear or late error: $(cat bad.txt)"
# bias tuning needs a dense feature layer right below the head: said before training
"$SIM" --set base_arch=c4,p,d10 --set strategies=frozen,federated-tuned --out nodense 2> bad.txt > /dev/null &&
  fail "bias tuning without a dense feature layer"
grep -q "tune a dense layer right below the head" bad.txt && ! grep -q "base model: training" bad.txt ||
  fail "unclear or late error: $(cat bad.txt)"
"$SIM" --set base_arch=c4,p,d10 --set strategies=frozen,local-dense --out nodense2 2> bad.txt > /dev/null &&
  fail "weight tuning without a dense feature layer"
grep -q "tune a dense layer right below the head" bad.txt || fail "unclear error: $(cat bad.txt)"
"$SIM" --set weight_lr=0 2> bad.txt && fail "weight_lr=0 accepted"
grep -q "weight_lr" bad.txt || fail "unclear error: $(cat bad.txt)"

# learning the feature layer's weights on the devices (off by default):
# the devices' own layers moved their features (not the bias-tuned run's
# figures), well above frozen, and the federated head still travels
grep -q "^strategies = .*-dense" inproc/scenario.ini && fail "the dense strategies are on by default"
"$SIM" "${small[@]}" --set strategies=frozen,local-tuned,local-dense,federated-tuned,federated-dense,federated-dense-shared \
  --out dense > dense.txt 2> dense.err || { cat dense.err; fail "dense strategies"; }
grep -q "^weight_lr = " dense/scenario.ini || fail "weight_lr missing from the resolved scenario"
/usr/bin/python3 - dense/summary.json <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["final"]
fz = f["frozen"]
for k, twin in (("local-dense", "local-tuned"), ("federated-dense", "federated-tuned")):
    assert f[k]["worst"] >= fz["worst"] + 10, (k, f[k])
    assert f[k]["accuracy"] != f[twin]["accuracy"], (k, f[k], f[twin])
assert f["federated-dense"]["accepted"] > 0 and f["local-dense"]["accepted"] == 0, f
# the shared layer moved the features away from each device's own layer's, and updates were stored
sh = f["federated-dense-shared"]
assert sh["worst"] >= fz["worst"] + 10 and sh["accuracy"] != f["federated-dense"]["accuracy"], sh
assert sh["accepted"] > 0, sh
PY
# the shared layer follows the aggregator's rounds over DTLS as in-process
# (from the versions its receipts and models name): the same figures
"$SIM" "${small[@]}" --set strategies=federated-dense-shared --mode network --out dense-net \
  > /dev/null 2> dense-net.err || { cat dense-net.err; fail "federated-dense-shared over the network"; }
shared() { awk -F, '$1 == "federated-dense-shared"' "$1/rounds.csv"; }
diff <(shared dense) <(shared dense-net) > /dev/null || { diff <(shared dense) <(shared dense-net) | head; fail "shared layer: modes differ"; }
# seeds are independent: the federated rounds (version, accepted, lost and
# accuracy) of seeds 1, 2 and 3 differ (a seed ^ device hash once made them
# the same population with devices swapped in blocks of four)
quick=(--devices 40 --rounds 4 --quiet --set base_arch=c4,p,c8s2,d16,d10 --set base_images=3000
       --set base_epochs=1 --set pool_per_region=1500 --set strategies=frozen,federated --set base=b.mfl)
for s in 1 2 3; do
  "$SIM" "${quick[@]}" --seed $s --out seed$s 2> seed$s.err > /dev/null || { cat seed$s.err; fail "seed $s"; }
  awk -F, '$1 == "federated" { print $3, $13, $15 }' seed$s/rounds.csv > part$s.txt
done
! cmp -s part1.txt part2.txt && ! cmp -s part2.txt part3.txt && ! cmp -s part1.txt part3.txt ||
  fail "seeds 1, 2 and 3 give the same participation: $(paste part1.txt part2.txt part3.txt | head -3)"
# the base model: trained for each seed (its inputs changed), reused for the same one
grep -q "b.mfl was made from other inputs" seed2.err || fail "seed 2 reused seed 1's base: $(grep base seed2.err)"
grep -q "seed=3;" b.mfl.inputs || fail "the base's inputs are not recorded: $(cat b.mfl.inputs)"
"$SIM" "${quick[@]}" --seed 3 --out again 2> again.err > /dev/null || fail "rerun of seed 3"
grep -q "base model: b.mfl (cached" again.err || fail "the same inputs trained again: $(grep base again.err)"
cmp -s seed3/rounds.csv again/rounds.csv || fail "the same seed and base gave other rounds"
# a user's own base (no .inputs beside it) is used as it is
cp b.mfl mine.mfl
"$SIM" "${quick[@]}" --seed 1 --set base=mine.mfl --out mine 2> mine.err > /dev/null || fail "supplied base"
grep -q "base model: mine.mfl (supplied" mine.err || fail "a supplied base: $(grep base mine.err)"
# the resolved scenario repeats the run
grep -qx "seed = 3" seed3/scenario.ini && grep -qx "buffer_k = 10" seed3/scenario.ini ||
  fail "scenario.ini lacks resolved keys: $(head -5 seed3/scenario.ini)"
"$SIM" seed3/scenario.ini --quiet --out replay 2> /dev/null > /dev/null || fail "run from scenario.ini"
cmp -s seed3/rounds.csv replay/rounds.csv || fail "scenario.ini does not repeat the run"
# --set region=... is repeatable as in a file: the first replaces the defaults
"$SIM" "${quick[@]}" --rounds 1 --set "region=north 1 0 0 0.03" --set "region=south 0.5 0 0 1" --out two \
  2> two.err > /dev/null || { cat two.err; fail "two regions from the command line"; }
[ "$(grep -c '^region = ' two/scenario.ini)" = 2 ] && head -1 two/rounds.csv | grep -q "acc_north,acc_south," ||
  fail "--set region twice: $(grep '^region' two/scenario.ini)"
# any aggregator setting as agg.KEY, checked by the aggregator's reader before the slow work
"$SIM" "${quick[@]}" --set agg.rule=median --set agg.clip_norm=2 --set top_k=40 --out agg 2> agg.err > /dev/null ||
  { cat agg.err; fail "agg.rule=median"; }
grep -qx "rule = median" agg/federated/aggregator.conf && grep -qx "top_k = 40" agg/scenario.ini ||
  fail "agg.KEY or top_k not applied"
"$SIM" "${quick[@]}" --set agg.rule=bogus --out aggbad 2> aggbad.err > /dev/null && fail "agg.rule=bogus accepted"
grep -q "rule = 'bogus': must be 'mean', 'trimmed_mean' or 'median'" aggbad.err || fail "unclear: $(cat aggbad.err)"
! grep -q "base model" aggbad.err || fail "a bad agg.KEY was found after the slow work"
# a previous run in the directory: refused, or cleared with --replace
"$SIM" "${quick[@]}" --seed 3 --out seed3 2> stale.err > /dev/null && fail "a previous run's directory was reused"
grep -q "seed3 holds a previous run" stale.err || fail "unclear refusal: $(cat stale.err)"
"$SIM" "${quick[@]}" --seed 1 --out seed3 --replace 2> /dev/null > /dev/null || fail "--replace"
cmp -s seed1/rounds.csv seed3/rounds.csv || fail "--replace left the old run's traces"
[ ! -e seed3/federated/data/state.db ] || grep -qx "seed = 1" seed3/scenario.ini || fail "--replace kept stale files"
echo "1 passed, 0 failed"
