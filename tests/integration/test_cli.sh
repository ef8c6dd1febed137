#!/usr/bin/env bash
# The command-line conventions of mfl and mfl-sim (issue 14), as a user meets
# them: --help on every command prints its usage to stdout and exits 0; an
# unknown option, a bad value or a missing argument is named and exits 2;
# numbers are parsed strictly (no -1 wrapping to 2^64-1); a file's error names
# the file and the system's reason and exits 1; `mfl inspect` refuses an
# update whose COSE kid is not its device id; learn-demo learns at most what
# the training set holds; mfl-sim creates its whole --out path and checks its
# outputs before the slow work. No aggregator here: test_cli_device.sh.
set -euo pipefail
: "${MFL:?path to mfl}" "${SIM:?path to mfl-sim}"
MFL=$(readlink -f "$MFL"); SIM=$(readlink -f "$SIM")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
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

# A small Fashion-MNIST (IDX, gzip): 100 training and 100 test images.
/usr/bin/python3 - <<'PY'
import gzip, os, struct
src, dst = "/usr/share/datasets/fashion-mnist", "small"
os.makedirs(dst)
for part, n in (("train", 100), ("t10k", 100)):
    img = gzip.open(f"{src}/{part}-images-idx3-ubyte.gz").read()
    lab = gzip.open(f"{src}/{part}-labels-idx1-ubyte.gz").read()
    gzip.open(f"{dst}/{part}-images-idx3-ubyte.gz", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + img[16:16 + n * 784])
    gzip.open(f"{dst}/{part}-labels-idx1-ubyte.gz", "wb").write(struct.pack(">II", 0x801, n) + lab[8:8 + n])
PY
"$MFL" train -o base.mflf -a c4,p,c8s2,d16,d10 -e 1 --data small > /dev/null 2>&1 || fail "train"
"$MFL" quantize base.mflf base.mfl --calib 50 --data small > /dev/null || fail "quantize"
"$MFL" keygen dev1 > /dev/null || fail "keygen"

# 1. --help: the command's own usage on stdout, exit 0, nothing on stderr
help_of() { # command words... -> the usage line it must print
  local rc=0
  "$MFL" "$@" --help > out.txt 2> err.txt || rc=$?
  [ "$rc" = 0 ] || fail "mfl $* --help: exit $rc: $(cat err.txt)"
  [ ! -s err.txt ] || fail "mfl $* --help wrote to stderr: $(cat err.txt)"
  grep -q "usage: mfl $*" out.txt || fail "mfl $* --help: not its usage: $(head -3 out.txt)"
  checks=$((checks + 1))
}
help_of model; help_of model info; help_of model run; help_of model import
help_of train; help_of quantize; help_of eval; help_of learn-demo; help_of keygen
help_of update; help_of update make; help_of inspect; help_of verify
help_of device; help_of device sync; help_of device relay
expect 0 -- "$MFL" model info -h
expect 0 -- "$SIM" --help
expect 0 -- "$SIM" report --help

# 2. unknown options and bad values: the option and the value named, exit 2
for cmd in "model info" "model run" "model import" train quantize eval learn-demo keygen "update make" inspect \
  verify "device sync" "device relay"; do
  # shellcheck disable=SC2086
  expect 2 "mfl $cmd: unknown option '--bogus'" -- "$MFL" $cmd --bogus
done
expect 2 "mfl: unknown command 'bogus'" -- "$MFL" bogus
expect 2 "mfl model: unknown command 'bogus'" -- "$MFL" model bogus
expect 2 "mfl device: unknown command 'bogus'" -- "$MFL" device bogus
expect 2 "mfl train: --epochs 'abc': not an integer in 1..1000" -- "$MFL" train -o x.mflf --epochs abc
expect 2 "option '--epochs' needs a value" -- "$MFL" train -o x.mflf --epochs
expect 2 "--lr 'nan'" -- "$MFL" train -o x.mflf --lr nan
expect 2 "--class-weights '1,2'" -- "$MFL" train -o x.mflf --class-weights 1,2
expect 2 "--headroom '0.5'" -- "$MFL" quantize base.mflf q.mfl --headroom 0.5
expect 2 "--calib '2x'" -- "$MFL" quantize base.mflf q.mfl --calib 2x
expect 2 "mfl device sync: --psk 'zz'" -- "$MFL" device sync --server 127.0.0.1:5684 --id d --psk zz
expect 2 "--timeout '-5'" -- "$MFL" device sync --server 127.0.0.1:5684 --id d --psk 00 --timeout -5
expect 2 "--samples '-2'" -- "$MFL" device sync --server 127.0.0.1:5684 --id d --psk 00 --samples -2
expect 2 "--id '0123456789abcdef0123456789abcdef0'" -- \
  "$MFL" device sync --server 127.0.0.1:5684 --psk 00 --id 0123456789abcdef0123456789abcdef0
expect 2 "--server 'localhost'" "HOST:PORT" -- "$MFL" device relay --server localhost --id d --psk 00 u.cose
expect 2 "--server 'h:99999'" -- "$MFL" device relay --server h:99999 --id d --psk 00 u.cose
expect 2 "--aad 'xyz'" -- "$MFL" verify --key dev1.pub --aad xyz base.mfl

# 3. numbers strictly, in the protocol's ranges (counters and versions 1..2^63-1)
U=(update make --model base.mfl --key dev1.key --device-id dev1 --samples 5 -o u.cose)
expect 2 "mfl update make: --counter '-1': not an integer in 1..2^63-1" -- "$MFL" "${U[@]}" --counter -1
expect 2 "--base-version '-3'" -- "$MFL" "${U[@]}" --base-version -3
expect 2 "--counter '9223372036854775808'" -- "$MFL" "${U[@]}" --counter 9223372036854775808
expect 2 "--counter '0'" -- "$MFL" "${U[@]}" --counter 0
expect 2 "--counter ' 7'" -- "$MFL" "${U[@]}" --counter " 7"
expect 2 "--samples '18446744073709551616'" -- "$MFL" "${U[@]}" --samples 18446744073709551616
[ ! -e u.cose ] || fail "an update was written for a bad counter"
expect 0 -- "$MFL" "${U[@]}" --counter 9223372036854775807 --base-version 9223372036854775807
"$MFL" inspect u.cose | grep -q "counter        9223372036854775807" || fail "counter 2^63-1 not signed as given"
expect 2 "mfl learn-demo: --samples '-1'" -- "$MFL" learn-demo base.mfl --samples -1
expect 2 "mfl learn-demo: --samples '60008': not an integer in 8..60000" -- "$MFL" learn-demo base.mfl --samples 60008
expect 2 "--lr '0'" -- "$MFL" learn-demo base.mfl --lr 0
# asking for more images than the training set holds: all of them, said (the
# parity pass used to walk the requested count past the list: SIGSEGV)
expect 0 "the training set holds 100 images" -- "$MFL" learn-demo base.mfl --samples 200 --data small --epochs 1
grep -q "learned 100 labelled images" out.txt || fail "learn-demo did not learn the 100 images: $(cat out.txt)"
grep -q "parity on the 100 test images" out.txt || fail "no parity line: $(cat out.txt)"

# missing arguments: named
expect 2 "mfl model info: missing MODEL" -- "$MFL" model info
expect 2 "mfl model run: missing OUT.bin" -- "$MFL" model run base.mfl in.bin
expect 2 "unexpected argument 'extra'" -- "$MFL" model info base.mfl extra
expect 2 "mfl model: missing the command" -- "$MFL" model
expect 2 "mfl train: missing -o/--output" -- "$MFL" train
expect 2 "mfl update make: missing --key" -- "$MFL" update make --model base.mfl
expect 2 "mfl update: missing the command: make" -- "$MFL" update
expect 2 "mfl verify: missing --key" -- "$MFL" verify u.cose
expect 2 "mfl device relay: missing UPDATE.cose" -- "$MFL" device relay --server 127.0.0.1:5684 --id d --psk 00
expect 2 "mfl device sync: missing --agg-pub" -- "$MFL" device sync --server 127.0.0.1:5684 --id d --psk 00
expect 2 "mfl device sync: missing a key: --psk-file" -- "$MFL" device sync --server 127.0.0.1:5684 --id d
expect 2 "--psk and --psk-file" -- "$MFL" device relay --server 127.0.0.1:5684 --id d --psk 00 --psk-file - u.cose

# 4. files: the file and the reason, exit 1
expect 1 "mfl model info: nosuch.mfl: No such file or directory" -- "$MFL" model info nosuch.mfl
expect 1 "mfl model info: $tmp: Is a directory" -- "$MFL" model info "$tmp"
expect 1 "mfl inspect: nosuch.cose: No such file or directory" -- "$MFL" inspect nosuch.cose
expect 1 "mfl verify: nosuch.pub: No such file or directory" -- "$MFL" verify --key nosuch.pub u.cose
expect 1 "mfl eval: nosuch.mfl: No such file or directory" -- "$MFL" eval nosuch.mfl small
expect 1 "nodir/t10k-images-idx3-ubyte.gz: No such file or directory" -- "$MFL" eval base.mfl nodir
expect 1 "mfl quantize: nosuch.mflf: No such file or directory" -- "$MFL" quantize nosuch.mflf q.mfl
expect 1 "mfl device relay: nosuch.cose: No such file or directory" -- \
  "$MFL" device relay --server 127.0.0.1:5684 --id d --psk 00 nosuch.cose
expect 1 "--psk-file nosuch.psk: No such file or directory" -- \
  "$MFL" device relay --server 127.0.0.1:5684 --id d --psk-file nosuch.psk u.cose
expect 1 "--psk-file -: expected 1 to 64 bytes in hex" -- \
  "$MFL" device relay --server 127.0.0.1:5684 --id d --psk-file - u.cose < /dev/null
# outputs that cannot be created: said before any slow work
expect 1 "mfl keygen: cannot write nodir/k.key: No such file or directory" -- "$MFL" keygen nodir/k
# an existing key is kept: a replaced aggregator key would orphan every device pinned to it
cp dev1.pub dev1.pub.before
expect 1 "mfl keygen: dev1.key exists: kept" "--force replaces it" -- "$MFL" keygen dev1
cmp -s dev1.pub dev1.pub.before || fail "keygen replaced an existing key"
expect 0 -- "$MFL" keygen --force dev1
! cmp -s dev1.pub dev1.pub.before || fail "keygen --force did not make a new key"
expect 1 "mfl train: cannot write nodir/x.mflf: No such file or directory" -- "$MFL" train -o nodir/x.mflf
expect 1 "mfl train: cannot write $tmp: Is a directory" -- "$MFL" train -o "$tmp"
expect 1 "mfl quantize: cannot write nodir/q.mfl: No such file or directory" -- "$MFL" quantize base.mflf nodir/q.mfl
expect 1 "mfl update make: cannot write nodir/u.cose: No such file or directory" -- \
  "$MFL" update make --model base.mfl --key dev1.key --device-id dev1 -o nodir/u.cose
expect 1 "mfl model run: nodir/o.bin: No such file or directory" -- "$MFL" model run base.mfl base.mfl nodir/o.bin
expect 1 "mfl model import: nosuch.tflite: No such file or directory" -- "$MFL" model import nosuch.tflite o.mfl

# 5. an update whose COSE kid is not its device id is invalid, with why
"$MFL" update make --model base.mfl --key dev1.key --device-id dev1 --samples 5 -o good.cose > /dev/null
/usr/bin/python3 -c "
b = open('good.cose', 'rb').read(); i = b.index(b'dev1')  # the kid, in the protected header
open('kid.cose', 'wb').write(b[:i] + b'dev2' + b[i + 4:])"
"$MFL" inspect good.cose | grep -q "well-formed" || fail "a good update is not well-formed"
rc=0; "$MFL" inspect kid.cose > out.txt 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "kid != device id: exit $rc: $(cat out.txt)"
grep -q "INVALID: the COSE kid 'dev2' is not the update's device id 'dev1'" out.txt || fail "kid: $(cat out.txt)"
grep -q "well-formed" out.txt && fail "kid != device id called well-formed"
checks=$((checks + 1))

# 7. mfl-sim: options named (exit 2); the whole --out path made and every
# output checked before the base model is trained
expect 2 "mfl-sim: --rounds 'abc': not an integer in 1..100000" -- "$SIM" --rounds abc
expect 2 "mfl-sim: --devices '-1'" -- "$SIM" --devices -1
expect 2 "mfl-sim: unknown option '--bogus'" -- "$SIM" --bogus
expect 2 "mfl-sim: --mode 'fast'" -- "$SIM" --mode fast
expect 2 "mfl-sim: report: missing DIR" -- "$SIM" report
expect 1 "nowhere/rounds.csv: No such file or directory" -- "$SIM" report nowhere
tiny=(--devices 8 --rounds 1 --quiet --set base_arch=c4,p,c8s2,d16,d10 --set base_images=500 --set base_epochs=1
      --set pool_per_region=100 --set train_per_device=20 --set test_per_device=20 --set strategies=frozen,local)
touch afile
expect 1 "cannot create the run directory afile/run: Not a directory" -- "$SIM" "${tiny[@]}" --out afile/run
mkdir -p busy/accuracy-frozen.png
expect 1 "cannot write busy/accuracy-frozen.png: Is a directory" -- "$SIM" "${tiny[@]}" --out busy
[ ! -e busy/base.mfl ] || fail "mfl-sim trained the base model before finding it could not write accuracy-frozen.png"
expect 1 "cannot write the base model nodir/b.mfl: No such file or directory" -- \
  "$SIM" "${tiny[@]}" --set base=nodir/b.mfl --out ok
expect 0 -- "$SIM" "${tiny[@]}" --out runs/deep/rs
[ -s runs/deep/rs/rounds.csv ] && [ -s runs/deep/rs/summary.json ] || fail "mfl-sim --out runs/deep/rs wrote no run"

echo "$checks checks; 1 passed, 0 failed"
