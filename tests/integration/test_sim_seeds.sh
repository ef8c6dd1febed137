#!/usr/bin/env bash
# mfl-sim --seeds N on a tiny scenario: each seed runs in DIR/seed-S/ with
# its own base model and its own population; the mean and 95 % interval
# over seeds that the simulator writes (seeds.csv, summary.json) and prints
# equal what Python computes from the seeds' rounds.csv with a t quantile
# derived here in closed form; `mfl-sim report` on the directory prints the
# same table; the plots are there in PNG, SVG (well-formed XML) and PDF,
# restylable from plots.gp; a previous multi-seed run is refused, and
# --replace with fewer seeds leaves no stale seed in the report; one seed
# says it gives no interval; a user's own base model is shared by the seeds;
# gnuplot failing loses neither the table nor the summary.
set -euo pipefail
: "${SIM:?}"
SIM=$(readlink -f "$SIM")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
tiny=(--devices 20 --rounds 3 --quiet --set base_arch=c4,p,c8s2,d16,d10 --set base_images=3000 --set base_epochs=1
      --set pool_per_region=1500 --set oracle_epochs=2)

"$SIM" "${tiny[@]}" --seed 1 --seeds 3 --out m > m.txt 2> m.err || { cat m.err; fail "--seeds 3"; }
for s in 1 2 3; do
  [ -s m/seed-$s/rounds.csv ] && [ -s m/seed-$s/summary.json ] || fail "seed $s: no run in m/seed-$s"
  grep -qx "seed = $s" m/seed-$s/scenario.ini && grep -qx "base = m/seed-$s/base.mfl" m/seed-$s/scenario.ini ||
    fail "seed $s: scenario.ini: $(grep -E '^(seed|base) =' m/seed-$s/scenario.ini)"
  grep -q "seed=$s;" m/seed-$s/base.mfl.inputs || fail "seed $s's base was not trained for it"
done
# each seed its own base model and its own population
! cmp -s m/seed-1/base.mfl m/seed-2/base.mfl && ! cmp -s m/seed-2/base.mfl m/seed-3/base.mfl ||
  fail "seeds share a base model"
fed() { awk -F, '$1 == "federated"' "m/seed-$1/rounds.csv"; }
! cmp -s <(fed 1) <(fed 2) && ! cmp -s <(fed 2) <(fed 3) || fail "seeds give the same federated rounds"

# the interval, recomputed from the rounds: t(0.975, 2) from Student's t
# CDF with 2 degrees of freedom, F(t) = 1/2 + t / (2 sqrt(2 + t^2))
/usr/bin/python3 - m m.txt <<'PY'
import csv, json, math, sys
d, printed = sys.argv[1], open(sys.argv[2]).read()
seeds = [1, 2, 3]
q = 2 * 0.975 - 1
t = q * math.sqrt(2 / (1 - q * q))  # F(t) = 0.975 solved for t
rounds = {}
for s in seeds:
    rows = list(csv.DictReader(open(f"{d}/seed-{s}/rounds.csv")))
    regions = [c[4:] for c in rows[0] if c.startswith("acc_")]
    by = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)
    rounds[s] = by

def figures(by, k):
    f = lambda r, c: float(r[c])
    # the recalibrated backbone; the references below the head are held to the best head-only one
    recal = "recal" in k or "tuned" in k or k in ("personalized", "oracle-full", "oracle-bias")
    last, fz, orc = by[k][-1], by["frozen"][-1], by["oracle-recal" if recal else "oracle"][-1]
    base = max((by[b][-1] for b in ("frozen", "standardized", "recalibrated")), key=lambda r: f(r, "worst"))
    worst = [f(r, "worst") for r in by[k][1:]][-5:]
    m = sum(worst) / len(worst)
    return {"worst": f(last, "worst"), "mean": f(last, "mean"), "gap": f(last, "gap"),
            "worst_gain": f(last, "worst") - f(fz, "worst"), "vs_oracle": f(last, "mean") - f(orc, "mean"),
            "worst_over_baseline": f(last, "worst") - f(base, "worst"),
            "min_region_gain": min(f(last, "acc_" + g) - f(fz, "acc_" + g) for g in regions),
            "home_gain": f(last, "acc_" + regions[0]) - f(fz, "acc_" + regions[0]),
            "worst_sd5": math.sqrt(sum((x - m) ** 2 for x in worst) / (len(worst) - 1))}

table = {(r["strategy"], r["figure"]): r for r in csv.DictReader(open(f"{d}/seeds.csv"))}
summary = json.load(open(f"{d}/summary.json"))
assert summary["seeds"] == seeds and summary["interval"]["degrees_of_freedom"] == 2, summary["interval"]
assert abs(summary["interval"]["t"] - t) < 1e-5, (summary["interval"]["t"], t)
strategies = list(rounds[1])
assert strategies == ["frozen", "standardized", "recalibrated", "local", "local-recal", "federated", "fair",
                      "federated-recal",
                      "personalized", "oracle", "oracle-recal", "local-tuned", "federated-tuned"], strategies
for k in strategies:
    for name in ["worst", "mean", "gap", "worst_gain", "worst_over_baseline", "vs_oracle", "home_gain",
                 "min_region_gain", "worst_sd5"]:
        if name == "worst_over_baseline" and k in ("frozen", "standardized", "recalibrated"):
            assert table[(k, name)]["seeds"] == "0" and summary["strategies"][k][name]["n"] == 0, (k, name)
            continue
        v = [figures(rounds[s], k)[name] for s in seeds]
        mean = sum(v) / 3
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / 2)
        ci = t * sd / math.sqrt(3)
        row, js = table[(k, name)], summary["strategies"][k][name]
        for got, what in ((float(row["mean"]), mean), (float(row["ci95"]), ci), (float(row["sd"]), sd),
                          (js["mean"], mean), (js["ci95"], ci)):
            assert abs(got - what) < 2e-3, (k, name, got, what, v)
        assert [float(row[f"seed-{s}"]) for s in seeds] == [round(x, 4) for x in v] or \
            max(abs(float(row[f"seed-{s}"]) - x) for s, x in zip(seeds, v)) < 1e-3, (k, name, row, v)
    # the printed table: the worst region's mean and half-width, to 2 decimals
    line = next(l for l in printed.split("\n") if l.startswith(k + " ") and "±" in l)
    w = [figures(rounds[s], k)["worst"] for s in seeds]
    wm = sum(w) / 3
    wci = t * math.sqrt(sum((x - wm) ** 2 for x in w) / 2) / math.sqrt(3)
    cells = line[len(k):].split("±")
    assert abs(float(cells[0]) - wm) < 0.006 and abs(float(cells[1].split()[0]) - wci) < 0.006, (line, wm, wci)
# the band of the worst-region plot: mean, min and max over seeds per round
for r in csv.DictReader(open(f"{d}/worst-seeds.csv")):
    w = [float(rounds[s][r["strategy"]][int(r["round"])]["worst"]) for s in seeds]
    assert abs(float(r["mean"]) - sum(w) / 3) < 1e-3 and float(r["min"]) == min(w) and float(r["max"]) == max(w), r
PY
grep -q "^Over 3 seeds (1, 2, 3; m/seed-\*/rounds.csv): mean ± half-width of the 95 % confidence interval" m.txt ||
  fail "no table over seeds: $(cat m.txt)"

# report on the multi-seed directory prints the same table; on a seed's
# directory, that seed's table as the run printed it
"$SIM" report m > report.txt || fail "report m"
diff <(sed -n '/^Over /,$p' m.txt | grep -v "rounds took") report.txt || fail "report differs from the run's table"
"$SIM" report m/seed-2 > report2.txt || fail "report m/seed-2"
diff <(sed -n '/(m\/seed-2\/rounds.csv)/,/^Accuracy per region.*seed-3/p' m.txt | sed '$d') report2.txt ||
  fail "report of seed 2 differs"

# plots: PNG, SVG (well-formed XML), PDF when gnuplot has pdfcairo; the
# script in the directory, with the colour-blind-safe palette, the oracle
# dashed, the x axis ending at the last round
for p in m/worst m/seed-1/worst m/seed-1/accuracy-federated; do
  [ "$(head -c 8 $p.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$p.png is not a PNG"
  /usr/bin/python3 -c "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot()
assert r.tag.endswith('svg'), r.tag" $p.svg || fail "$p.svg is not SVG"
  if gnuplot -e 'set terminal' 2>&1 | grep -q pdfcairo; then
    [ "$(head -c 5 $p.pdf)" = "%PDF-" ] || fail "$p.pdf is not a PDF"
  fi
done
grep -q "#E69F00" m/plots.gp && grep -q "set xrange \[0:3\]" m/plots.gp || fail "plots.gp: palette or x range"
grep -q "grep '^oracle,' worst-seeds.csv\" using 2:3 with lines lc rgb '#000000' dt 2" m/plots.gp ||
  fail "the oracle is not a dashed reference: $(grep oracle m/plots.gp)"
grep -q "filledcurves" m/plots.gp && grep -q "band: lowest to highest" m/plots.gp || fail "no band over seeds"
(cd m && gnuplot plots.gp) || fail "plots.gp does not run again"

# a previous run is refused, a single run included; --replace with fewer
# seeds clears the old ones (seed 3 gone from the report), bases cached
"$SIM" "${tiny[@]}" --seeds 3 --out m 2> again.err > /dev/null && fail "a previous --seeds run was reused"
grep -q "m holds a previous run" again.err || fail "unclear refusal: $(cat again.err)"
"$SIM" "${tiny[@]}" --out m 2> again.err > /dev/null && fail "a single run mixed into a --seeds directory"
"$SIM" "${tiny[@]}" --seed 1 --seeds 2 --out m --replace > m2.txt 2> m2.err || { cat m2.err; fail "--replace"; }
[ ! -e m/seed-3/rounds.csv ] && head -1 m/seeds.csv | grep -q ",seed-1,seed-2$" || fail "--replace left seed 3"
[ "$(grep -c 'base model: m/seed-[12]/base.mfl (cached' m2.err)" = 2 ] || fail "bases not reused: $(cat m2.err)"
"$SIM" report m | grep -q "^Over 2 seeds (1, 2;" || fail "report after --replace: $("$SIM" report m)"

# one seed: the figures, and no interval, said
"$SIM" "${tiny[@]}" --seed 4 --seeds 1 --out one > one.txt 2> one.err || { cat one.err; fail "--seeds 1"; }
grep -q "one seed gives no interval" one.txt || fail "--seeds 1: $(cat one.txt)"
awk -F, '$2 == "worst" && $5 != "" { exit 1 }' one/seeds.csv || fail "--seeds 1 wrote an interval"
/usr/bin/python3 -c "import json; s = json.load(open('one/summary.json')); assert s['interval'] is None, s"

# a model of the user's own (no .inputs) is every seed's base
cp m/seed-1/base.mfl mine.mfl
"$SIM" "${tiny[@]}" --rounds 1 --seeds 2 --set base=mine.mfl --out own > /dev/null 2> own.err ||
  { cat own.err; fail "--seeds with base=mine.mfl"; }
[ "$(grep -c 'base model: mine.mfl (supplied' own.err)" = 2 ] && [ ! -e own/seed-1/base.mfl ] ||
  fail "a supplied base was not shared: $(grep base own.err)"

# gnuplot failing: the run says so and fails, the figures are all written
mkdir -p fake && printf '#!/bin/sh\necho "gnuplot: broken" >&2\nexit 1\n' > fake/gnuplot && chmod +x fake/gnuplot
PATH="$tmp/fake:$PATH" "$SIM" "${tiny[@]}" --rounds 1 --seeds 2 --set base=mine.mfl --out broken > broken.txt \
  2> broken.err && fail "a failing gnuplot went unnoticed"
grep -q "gnuplot failed" broken.err && grep -q "^Over 2 seeds" broken.txt || fail "gnuplot failure: $(cat broken.err)"
[ -s broken/seeds.csv ] && [ -s broken/summary.json ] && [ -s broken/seed-2/summary.json ] ||
  fail "gnuplot's failure lost the table or summary"
echo "1 passed, 0 failed"
