#!/usr/bin/env bash
# lode demo: the main job end to end on the embedded default (a local store
# beside a bare repository; no cloud account). Run with `make demo`, which
# builds bin/git-lode; LODE_DEMO_BIN names another directory holding git-lode
# (the integration test passes the binary it built).
#
# Two users with their own HOME share a bare repository: alice makes the
# project, bob runs 'git lode install' once and a plain 'git clone' gets the
# data; bob pushes v2 and alice pulls it. A training machine clones pointers
# only, mounts a revision and trains on one file of the dataset; the mount
# says how little it fetched. Training v1 and v2 gives different models, and
# the same revision read from another place gives a byte-identical one.
#
# Every command that matters is printed as a line you can paste into a shell
# (after `cd` into the printed directory and the printed `export HOME=...`).
# Each claim is checked; the script stops with "demo: FAILED: ..." if one
# does not hold.
set -Eeuo pipefail
trap 'echo "demo: FAILED: line $LINENO: $BASH_COMMAND" >&2' ERR

root=$(cd "$(dirname "$0")/.." && pwd)
bindir=${LODE_DEMO_BIN:-$root/bin}
[ -x "$bindir/git-lode" ] || { echo "demo: no $bindir/git-lode: run 'make build' (or 'make demo')" >&2; exit 1; }
export PATH="$bindir:$PATH"
for tool in git python3 poetry fusermount3; do
	command -v "$tool" >/dev/null || command -v "${tool%3}" >/dev/null ||
		{ echo "demo: $tool is not on PATH: run './.ci/deps --system'" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/lode-demo.XXXXXX")
mounts=()
cleanup() {
	for m in ${mounts[@]+"${mounts[@]}"}; do git lode umount --lazy "$m" >/dev/null 2>&1 || true; done
	cd / && rm -rf "$work"
}
trap cleanup EXIT

# Git reads only $HOME/.gitconfig (and $HOME/.config/git/config): no system
# config, and nothing of the caller's. Each user below has a HOME of their own.
unset XDG_CONFIG_HOME GIT_CONFIG_GLOBAL GIT_DIR GIT_WORK_TREE VIRTUAL_ENV GIT_LODE_SKIP_SMUDGE LODE_REMOTE_URL LODE_STORE_DIR
export LANG=C LC_ALL=C

bold=$'\033[1m' off=$'\033[0m'
[ -t 1 ] || bold='' off=''
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
note() { printf '# %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }

# quote prints one word as the shell would need it: as is when it holds only
# safe characters, else in single quotes.
quote() {
	if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,^-]+$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\\\'\'}"
	fi
}
# word prints one word of a command line; NAME=value as NAME=quoted value.
word() {
	if [[ $1 =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
		printf '%s=%s' "${BASH_REMATCH[1]}" "$(quote "${BASH_REMATCH[2]}")"
	else
		quote "$1"
	fi
}
# show prints a command line that can be pasted into a shell.
show() {
	local sep='$ ' w
	for w in "$@"; do
		printf '%s' "$sep"
		word "$w"
		sep=' '
	done
	printf '\n'
}
# run prints a command and runs it (in this shell: cd and export work).
run() { show "$@"; "$@" || die "exit status $?: $(show "$@")"; }
# runenv VAR=value... -- COMMAND...: the same with the assignments in front.
runenv() {
	local assigns=()
	while [ "$1" != -- ]; do assigns+=("$1"); shift; done
	shift
	show "${assigns[@]}" "$@"
	env "${assigns[@]}" "$@" || die "exit status $?: $(show "${assigns[@]}" "$@")"
}
# as NAME switches to that user: their HOME (made on first use, with a
# ~/.gitconfig holding only their name, email and init.defaultBranch).
as() {
	local home="$work/home-$1"
	if [ ! -d "$home" ]; then
		mkdir -p "$home"
		printf '[user]\n\tname = %s\n\temail = %s@lode.invalid\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n' "$1" "$1" >"$home/.gitconfig"
	fi
	note "as $1: their own HOME and ~/.gitconfig"
	run export HOME="$home"
}
# bytes_of prints the size in bytes of a file, or the sum over a directory.
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'; }
# json FILE EXPR prints a value of a JSON file (EXPR in Python, over m).
json() { python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# mount_fetched DIR prints the bytes the mount at DIR has fetched, from the
# state it publishes in .git/lode/mounts/*.json (run in the repository).
mount_fetched() {
	python3 - "$1" .git/lode/mounts/*.json <<-'EOF'
		import json, os, sys
		want = os.path.realpath(sys.argv[1])
		for p in sys.argv[2:]:
		    m = json.load(open(p))
		    if os.path.realpath(m["dir"]) == want:
		        print(m["fetched_bytes"])
	EOF
}
# gen FILE ROWS SEED [FROM TO] writes ROWS sensor readings to FILE. The label
# depends on the features (temperature, vibration, load, plus noise), so a
# model can learn it; rows FROM to TO-1 get the opposite label (a batch
# labelled wrongly). The id, timestamp and site columns are text. The same
# SEED gives the same rows: a longer file starts with the shorter one.
gen() {
	python3 - "$@" <<-'EOF'
		import datetime, random, sys
		path, rows, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
		bad = range(int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else range(0)
		r = random.Random(seed)
		t0 = datetime.datetime(2026, 3, 1)
		with open(path, "w", newline="\n") as f:
		    f.write("id,recorded_at,site,temp_c,vibration,load_pct,label\n")
		    for i in range(rows):
		        temp, vib, load = r.gauss(60, 8), r.gauss(2.0, 0.6), r.uniform(20, 100)
		        z = 0.7 * (temp - 60) / 8 + 0.5 * (vib - 2.0) / 0.6 + 0.2 * (load - 60) / 23 + r.gauss(0, 0.35)
		        ts = (t0 + datetime.timedelta(seconds=37 * i)).isoformat()
		        site = r.choice(("plant-a", "plant-b", "plant-c"))
		        fault = (z > 0.2) != (i in bad)
		        f.write("r%07d,%sZ,%s,%.3f,%.4f,%.1f,%s\n" % (i, ts, site, temp, vib, load, "fault" if fault else "ok"))
	EOF
}
# captures DIR N writes N raw 1 MiB sensor captures (incompressible bytes).
captures() {
	python3 - "$@" <<-'EOF'
		import os, random, sys
		r = random.Random(42)
		os.makedirs(sys.argv[1], exist_ok=True)
		for i in range(int(sys.argv[2])):
		    with open(os.path.join(sys.argv[1], "capture-%02d.bin" % i), "wb") as f:
		        f.write(r.randbytes(1 << 20))
	EOF
}

step "alice: lode installed once for her user, a shared bare repository, a project"
run cd "$work"
note "no system git config, and none of yours (XDG_CONFIG_HOME and GIT_CONFIG_GLOBAL are unset):"
run export GIT_CONFIG_NOSYSTEM=1
as alice
run git lode install
run git init -q --bare shared.git
run git clone -q shared.git alice
run cd alice
run git lode track '*.csv' 'data/raw/**'

step "v1: a dataset of several files (train.csv, eval.csv, data/raw/ with 12 captures)"
note "train.csv: 100,000 rows, of which the last 10,000 (a batch labelled wrongly) have the opposite label"
mkdir -p data
gen data/train.csv 100000 1 90000 100000
gen data/eval.csv 20000 2
captures data/raw 12
run head -n 3 data/train.csv
run git add .gitattributes data
run git commit -q -m 'dataset v1: 100,000 training rows'
run git tag v1
note "git stores a pointer for each file:"
run git cat-file -p v1:data/train.csv
run git push -q origin main v1
note "the data went first, to the embedded default beside the bare repository:"
run git lode verify --remote

step "bob: his own HOME; 'git lode install' once (outside any repository), then a plain git clone"
run cd "$work"
as bob
run git lode install
run git config --global --get filter.lode.process
run git clone -q shared.git bob
diff -r "$work/alice/data" "$work/bob/data" >/dev/null || die "bob's clone differs from alice's data"
ok "bob's data/ is byte for byte alice's (diff -r)"
run cd bob
run git lode ls-files

step "v2: bob fixes the wrongly labelled batch, appends 30,000 new rows and pushes; alice pulls"
gen data/train.csv 130000 1
run git lode status
run git commit -q -am 'dataset v2: relabel rows 90,000-99,999; 30,000 more rows'
run git tag v2
run git push -q origin main v2
as alice
run cd "$work/alice"
run git pull -q --tags
cmp data/train.csv "$work/bob/data/train.csv" || die "alice's pulled data/train.csv differs from bob's"
ok "alice's data/train.csv is bob's v2 (cmp)"
run git log --oneline

step "A training machine: a clone with pointers only, a mount of v1, training on one file of the dataset"
run cd "$work"
as trainer
run git lode install
runenv GIT_LODE_SKIP_SMUDGE=1 -- git clone -q shared.git trainer
run cd trainer
note "nothing downloaded: the work tree holds pointers"
run cat data/train.csv
run mkdir "$work/v1" "$work/v2"
run git lode mount v1 "$work/v1"
mounts+=("$work/v1")
run ls -l "$work/v1/data"
run ls -C "$work/v1/data/raw"

job="$work/trainjob"
note "integration/trainjob: Gaussian naive Bayes, Python standard library only, installed offline with Poetry"
run cp -r "$root/integration/trainjob" "$job"
rm -rf "$job/.venv" # in case the source tree has one
run export POETRY_VIRTUALENVS_CREATE=true POETRY_VIRTUALENVS_IN_PROJECT=true POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON=false POETRY_NO_INTERACTION=1 POETRY_CACHE_DIR="$HOME/poetry-cache" POETRY_CONFIG_DIR="$HOME/poetry-config"
run cd "$job"
run poetry install -q
note "a look at the evaluation file (its first chunk only), then training on train.csv alone"
run head -n 3 "$work/v1/data/eval.csv"
run poetry run train "$work/v1/data/train.csv" "$work/model-v1"
run cd "$work/trainer"

note "the mount publishes what it fetched every second (.git/lode/mounts/*.json)"
sleep 1.5
run git lode mount --list
fetched=$(mount_fetched "$work/v1")
[ -n "$fetched" ] || die "no state file for the mount of $work/v1 in .git/lode/mounts"
size=$(bytes_of "$work/v1/data")
trainsize=$(bytes_of "$work/v1/data/train.csv")
[ "$fetched" -gt 0 ] || die "the mount of $work/v1 fetched nothing"
[ $((fetched * 2)) -lt "$size" ] || die "fetched $fetched bytes, not clearly less than the $size-byte dataset"
printf 'fetched %d bytes of a %d-byte dataset (%d%%): train.csv (%d bytes, read in full) and the start of eval.csv, as compressed chunks\n' \
	"$fetched" "$size" $((fetched * 100 / size)) "$trainsize"

step "Train v2 too, and v1 once more from bob's clone (another place, the same revision)"
run git lode mount v2 "$work/v2"
mounts+=("$work/v2")
run cd "$job"
run poetry run train "$work/v2/data/train.csv" "$work/model-v2"
run cd "$work/trainer"
sleep 1.5
fetched2=$(mount_fetched "$work/v2")
[ -n "$fetched2" ] || die "no state file for the mount of $work/v2 in .git/lode/mounts"
[ "$fetched2" -lt "$fetched" ] || die "v2 fetched $fetched2 bytes, not less than v1's $fetched: its chunks shared with v1 did not come from the cache"
printf 'v2: fetched %d bytes for its %d-byte train.csv (the chunks it shares with v1 came from the local cache)\n' \
	"$fetched2" "$(bytes_of "$work/v2/data/train.csv")"
as bob
run cd "$work/bob"
run git checkout -q v1
run cd "$job"
run poetry run train "$work/bob/data/train.csv" "$work/model-v1-again"

step "What the models show"
run cd "$work"
acc() { json "model-$1/metrics.json" '"%.4f" % m["train_accuracy"]'; }
chance() { json "model-$1/metrics.json" '"%.4f" % (max(c["rows"] for c in m["per_class"]) / m["rows"])'; }
for v in v1 v2; do
	printf '%s: %s rows, accuracy %s (always guessing the most common label: %s)\n' \
		"$v" "$(json "model-$v/metrics.json" 'm["rows"]')" "$(acc "$v")" "$(chance "$v")"
	python3 -c 'import sys; a, c = map(float, sys.argv[1:]); sys.exit(a < 0.75 or a < c + 0.15)' "$(acc "$v")" "$(chance "$v")" ||
		die "$v: accuracy $(acc "$v") is not well above chance ($(chance "$v"))"
done
ok "both models learn the label (accuracy at least 0.75, and 0.15 above chance)"
cmp -s model-v1/metrics.json model-v2/metrics.json && die "v1 and v2 give the same metrics"
[ "$(acc v1)" != "$(acc v2)" ] || die "v1 and v2 give the same accuracy"
ok "v1 and v2 give different metrics"
run sha256sum model-v1/model.json model-v1-again/model.json model-v2/model.json
show cmp model-v1/model.json model-v1-again/model.json
cmp model-v1/model.json model-v1-again/model.json || die "training v1 twice gave different models"
ok "v1 from the mount and v1 from bob's checkout: the same model, byte for byte"

step "Done"
run cd "$work/trainer"
for m in "${mounts[@]}"; do run git lode umount "$m"; done
mounts=()
printf 'A %d-byte dataset in two versions: %s in the shared store; the training machine fetched %d bytes (%d%%) of v1 to train on it.\n' \
	"$size" "$(du -sh "$work/shared.git/lode" | cut -f1)" "$fetched" $((fetched * 100 / size))
