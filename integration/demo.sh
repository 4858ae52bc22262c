#!/usr/bin/env bash
# lode demo: the main job, end to end, on the embedded default (a local
# store; no cloud account). Run with `make demo` (which builds bin/git-lode).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/lode-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Isolate git from the user's configuration; use the freshly built binary.
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$work/home/.gitconfig"
export PATH="$root/bin:$PATH"
mkdir -p "$HOME"
git config --global user.name "lode demo"
git config --global user.email "demo@lode.invalid"
git config --global init.defaultBranch main
git config --global advice.detachedHead false

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# A deterministic CSV dataset: ROWS rows starting at id FROM.
gen() { awk -v from="$1" -v rows="$2" 'BEGIN { srand(7); for (i = from; i < from + rows; i++) printf "%d,sensor-%d,%.6f,%.6f,%d\n", i, i % 97, rand()*100, rand(), int(rand()*10) }'; }

step "A shared bare repository, and a clone with lode installed and *.csv tracked"
cd "$work"
run git lode install              # once per user: the filter in ~/.gitconfig
run git init -q --bare "$work/shared.git"
run git clone -q "$work/shared.git" "$work/project"
cd "$work/project"
run git lode track "*.csv"

step "v1: 200,000 rows"
mkdir -p data
{ echo "id,sensor,value,score,label"; gen 0 200000; } > data/train.csv
cp data/train.csv "$work/v1.csv"
run git add .gitattributes data/train.csv
run git commit -q -m "dataset v1"
run git tag v1
printf 'git stores only a pointer:\n'
git cat-file -p HEAD:data/train.csv | sed 's/^/    /'

step "v2: 1% more rows appended"
gen 200000 2000 >> data/train.csv
run git commit -q -am "dataset v2"
step "v3: 100 bytes inserted near the start"
awk 'NR == 2 { printf "%s\n", "# relabelled rows below; see NOTES.md for the labelling change (2026-11-27)........." } { print }' data/train.csv > data/t && mv data/t data/train.csv
run git commit -q -am "dataset v3"

step "Every version comes back byte for byte"
run git checkout -q v1
cmp data/train.csv "$work/v1.csv" && echo "v1 matches the original (cmp)"
printf 'b3sum of the file:      %s\n' "$(b3sum --no-names data/train.csv 2>/dev/null || echo '(b3sum not installed)')"
printf 'oid in the pointer:     %s\n' "$(git cat-file -p HEAD:data/train.csv | sed -n 's/^oid blake3://p')"
run git checkout -q main

step "What lode knows"
run git lode ls-files
run git lode ls-files v1
run git lode status
run git lode stats
run git lode verify

step "Share it: git push uploads the data first (to $work/shared.git/lode, the embedded default)"
run git push -q origin main v1
run git lode verify --remote

step "A teammate clones: checkout downloads what it needs"
run git clone -q "$work/shared.git" "$work/teammate"
cmp "$work/teammate/data/train.csv" data/train.csv && echo "teammate's data/train.csv matches (cmp)"
(cd "$work/teammate" && run git lode ls-files)

step "A training machine clones with pointers only: no data is downloaded"
GIT_LODE_SKIP_SMUDGE=1 run git clone -q "$work/shared.git" "$work/trainer"
cd "$work/trainer"
head -c 80 data/train.csv; echo " ..."
run git lode ls-files v1

step "Mount revision v1 (read-only; chunks are fetched as they are read)"
mkdir "$work/v1-mount"
run git lode mount v1 "$work/v1-mount"
trap 'git lode umount --lazy "$work/v1-mount" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
ls -la "$work/v1-mount" "$work/v1-mount/data"

step "Train on it with Poetry (integration/trainjob: standard library only)"
job="$work/trainjob"
cp -r "$root/integration/trainjob" "$job"
rm -rf "$job/.venv"
export POETRY_VIRTUALENVS_CREATE=true POETRY_VIRTUALENVS_IN_PROJECT=true
export POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON=false POETRY_NO_INTERACTION=1
export POETRY_CACHE_DIR="$HOME/poetry-cache" POETRY_CONFIG_DIR="$HOME/poetry-config"
unset VIRTUAL_ENV
(cd "$job" && run poetry install -q)
(cd "$job" && run poetry run train "$work/v1-mount/data" "$work/model-v1")
printf 'metrics.json (top-level numbers):\n'
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); [print("    %s: %s" % (k, v)) for k, v in sorted(m.items()) if not isinstance(v, (list, dict))]' "$work/model-v1/metrics.json"

step "What was fetched"
sleep 1.2 # the mount publishes its figures every second
run git lode mount --list
fetched=$(cat .git/lode/mounts/*.json | sed -n 's/.*"fetched_bytes": \([0-9]*\).*/\1/p' | head -1)
size=$(git cat-file -p v1:data/train.csv | sed -n 's/^size //p')
remote=$(du -sb "$work/shared.git/lode" | cut -f1)
echo "fetched $fetched bytes (compressed chunks of v1) for a $size-byte dataset; the remote holds $remote bytes for all three versions"
run git lode umount "$work/v1-mount"

step "Done"
echo "Three versions of a $(du -h "$work/v1.csv" | cut -f1) dataset: $(du -sh "$work/project/.git/lode" | cut -f1) in the local store, $(du -sh "$work/shared.git/lode" | cut -f1) on the remote; v1 trained from a mount of a clone that downloaded nothing up front."
