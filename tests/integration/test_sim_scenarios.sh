#!/usr/bin/env bash
# Region lines with the harder scenario's words (docs/sim.md, Partitions
# and regions), end to end on a small population: neutral words change
# nothing (an old line gives the same run), an inverted sensor is another
# world for the frozen model, scenario.ini keeps the words and repeats the
# run exactly, and bad words are refused naming the file, line and word.
# The pixel-level effects are checked by tests/unit/test_sim_sensor.c.
set -euo pipefail
: "${SIM:?}"
SIM=$(readlink -f "$SIM")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
small=(--devices 24 --rounds 3 --quiet --set base=base.mfl --set base_arch=c4,p,c8s2,d16,d10
       --set base_images=6000 --set base_epochs=1 --set pool_per_region=600 --set strategies=frozen,federated)
rows() { awk -F, 'NR > 1' "$1/rounds.csv"; }

# an old line, and the same line with every word at its neutral value
"$SIM" "${small[@]}" --set 'region=home 1 0 0 0.03' --set 'region=noisy 1.0 0 48 1' --out old > /dev/null 2>&1 \
  || fail "old region lines"
"$SIM" "${small[@]}" --set 'region=home 1 0 0 0.03' \
  --set 'region=noisy 1.0 0 48 1 1 invert=0 rotate=0 shift=0 occlude=0 blur=0 prior=1,1,1,1,1,1,1,1,1,1' \
  --out neutral > /dev/null 2>&1 || fail "neutral words"
cmp <(rows old) <(rows neutral) > /dev/null || fail "neutral words changed the run"
grep -qx 'region = noisy 1 0 48 1 1' neutral/scenario.ini || fail "neutral words written back"

# the same region inverted: the frozen model sees another world
"$SIM" "${small[@]}" --set 'region=home 1 0 0 0.03' --set 'region=noisy 1.0 0 48 1 invert=1' --out inv \
  > /dev/null 2>&1 || fail "inverted region"
frozen() { awk -F, '$1 == "frozen" && $2 == 0 { print $5 }' "$1/rounds.csv"; } # the second region
[ "$(frozen old)" != "$(frozen inv)" ] || fail "invert=1 left the frozen accuracy at $(frozen old)"
awk -v a="$(frozen inv)" -v b="$(frozen old)" 'BEGIN { exit !(a < b - 10) }' \
  || fail "inverted region's frozen accuracy $(frozen inv) not well below $(frozen old)"

# every word in scenario.ini, and scenario.ini repeats the run
words='rotate=12 shift=2 occlude=8 occlude_value=40 blur=1 prior=4,1,1,1,1,1,1,1,1,0.5 availability=0.3'
"$SIM" "${small[@]}" --set 'region=home 1 0 0 0.03' --set "region=dusk 0.9 5 8 1 1 invert=1 $words" --out harder \
  > /dev/null 2>&1 || fail "harder region"
grep -qx "region = dusk 0.9 5 8 1 1 invert=1 $words" harder/scenario.ini \
  || { grep region harder/scenario.ini; fail "words not written back"; }
"$SIM" harder/scenario.ini --quiet --out again > /dev/null 2>&1 || fail "run from scenario.ini"
cmp <(rows harder) <(rows again) > /dev/null || fail "scenario.ini did not repeat the run"

# bad words: the file, the line and the word
printf 'devices = 10\nregion = home 1 0 0 0.03 blur=9\n' > bad.ini
if "$SIM" bad.ini --out badrun > /dev/null 2> bad.err; then fail "blur=9 accepted"; fi
grep -q 'bad.ini:2: bad value .* for "region": blur=9: 0..3' bad.err || { cat bad.err; fail "blur=9 message"; }
if "$SIM" --set 'region=x 1 0 0 1 sharpen=2' --out badrun > /dev/null 2> bad.err; then fail "unknown word"; fi
grep -q 'unknown region word "sharpen"' bad.err || { cat bad.err; fail "unknown word message"; }
echo "test_sim_scenarios: ok"
