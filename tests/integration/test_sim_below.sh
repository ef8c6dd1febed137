#!/usr/bin/env bash
# The references that learn below the head (docs/sim.md: oracle-full,
# oracle-bias, oracle-dense, oracle-lastconv), end to end on a tiny scenario: they run only when named,
# are appended after the other strategies, train the epochs asked, and are
# compared with oracle-recal; the base model is written with its float
# network beside it (BASE.float), which a later run reuses only when it
# exports to the very same base, and a missing one is trained again from
# the same inputs into the same base, bit for bit, with the cache key
# (BASE.inputs) untouched; a supplied base, which has no float network, is
# refused before the slow work. (That bias-only training leaves every
# weight below the head as it was, and that the dense and last-convolution
# modes step exactly their layers, is test_train's.)
set -euo pipefail
: "${SIM:?}"
SIM=$(readlink -f "$SIM")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
tiny=(--devices 20 --rounds 2 --quiet --set base=b.mfl --set base_arch=c4,p,c8s2,d16,d10 --set base_images=3000
      --set base_epochs=1 --set pool_per_region=1500 --set oracle_epochs=2)
below=(oracle-full oracle-bias oracle-dense oracle-lastconv)
refs=frozen,oracle,oracle-recal,$(IFS=,; echo "${below[*]}")
rows() { awk -F, '$1 ~ /^oracle-(full|bias|dense|lastconv)$/' "$1/rounds.csv"; }

# not run unless named
"$SIM" "${tiny[@]}" --out plain 2> plain.err > /dev/null || { cat plain.err; fail "default run"; }
[ -z "$(rows plain)" ] || fail "run by default"
grep -q "^strategies = .*federated-tuned$" plain/scenario.ini || fail "default strategies: $(grep strategies plain/scenario.ini)"

# named: after every other strategy, one row per round, the epochs asked; a base cached before
# float networks were kept (no b.mfl.float) is trained again into the same bytes
cp b.mfl b0.mfl
cp b.mfl.inputs b0.inputs
rm b.mfl.float
"$SIM" "${tiny[@]}" --set strategies=$refs --out one 2> one.err > one.txt || { cat one.err; fail "the fine-tuned references"; }
grep -q "float network b.mfl.float, which oracle-full, oracle-bias, oracle-dense and oracle-lastconv fine-tune, is not usable" one.err ||
  fail "a missing float network: $(grep base one.err)"
cmp -s b.mfl b0.mfl && cmp -s b.mfl.inputs b0.inputs || fail "training the float network again changed the base"
[ -s b.mfl.float ] || fail "no float network beside the base"
[ "$(awk -F, 'NR > 1 && !seen[$1]++ { print $1 }' one/rounds.csv | paste -sd,)" = "$refs" ] ||
  fail "order: $(awk -F, 'NR > 1 && !seen[$1]++ { print $1 }' one/rounds.csv | paste -sd,)"
[ "$(rows one | wc -l)" = 12 ] || fail "rows: $(rows one)"
for k in "${below[@]}"; do
  grep -q "$k trained 2 epochs" one.err || fail "epochs of $k: $(grep trained one.err)"
done
/usr/bin/python3 - one/summary.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert all(s["oracle_epochs"][k] == 2 for k in ("oracle-full", "oracle-bias", "oracle-dense", "oracle-lastconv")), s["oracle_epochs"]
PY
"$SIM" report one > report.txt || fail "report"
for k in "${below[@]}"; do grep -q "^$k " report.txt || fail "report: $(cat report.txt)"; done

# the float network reused when it exports to the base, and the same rows again
"$SIM" "${tiny[@]}" --set strategies=$refs --out two 2> two.err > /dev/null || { cat two.err; fail "second run"; }
grep -q "its float network b.mfl.float (exports to the base bit for bit)" two.err || fail "not reused: $(cat two.err)"
! grep -q "training" two.err || fail "trained again: $(cat two.err)"
cmp <(rows one) <(rows two) > /dev/null || fail "the same inputs gave other oracle-full/oracle-bias rows"

# compared with oracle-recal over seeds
"$SIM" "${tiny[@]}" --set strategies=$refs --seeds 2 --out seeds 2> seeds.err > /dev/null ||
  { cat seeds.err; fail "--seeds 2"; }
/usr/bin/python3 - seeds <<'PY'
import csv, sys
d = sys.argv[1]
table = {(r["strategy"], r["figure"]): r for r in csv.DictReader(open(f"{d}/seeds.csv"))}
for s in (1, 2):
    last = {}
    for r in csv.DictReader(open(f"{d}/seed-{s}/rounds.csv")):
        last[r["strategy"]] = r
    for k in ("oracle-full", "oracle-bias", "oracle-dense", "oracle-lastconv"):
        want = float(last[k]["mean"]) - float(last["oracle-recal"]["mean"])
        got = float(table[(k, "vs_oracle")][f"seed-{s}"])
        assert abs(got - want) < 1e-3, (k, s, got, want)
PY

# a base of the user's own has no float network: refused before any work
cp b.mfl mine.mfl
"$SIM" "${tiny[@]}" --set strategies=$refs --set base=mine.mfl --out mine 2> mine.err > /dev/null &&
  fail "a supplied base accepted for oracle-full"
grep -q "mine.mfl was supplied (no mine.mfl.inputs) and has none: leave them out" mine.err &&
  ! grep -q "^base model:" mine.err || fail "unclear or late refusal: $(cat mine.err)"
echo "1 passed, 0 failed"
