#!/usr/bin/env bash
# Before and after: the same measurements with two builds of git-lode, in
# one run, alternating between them, so that a change's cost is read off
# figures taken under the same conditions.
#
#   ./bench/compare.sh [BASE]        # BASE: a revision (default HEAD~1); NEW is bin/git-lode
#   make bench-compare BASE=9ed21e0
#
# For each build, in its own HOME and repositories, with the chunks in the
# local store (medians of BENCH_REPS, default 3):
#   1. git add + commit of a BENCH_SIZE_MB (default 1024) MiB text CSV;
#   2. git checkout of that file into an empty work tree (rm; checkout),
#      wall time and peak RSS of git and its filter;
#   3. the first sequential read of the file through `git lode mount`.
# CPU seconds (user + system) of the checkout (git and its filter) and of the
# mount process during the read are recorded too: on a busy or slow VM they
# move far less than wall time. Writes bench/out/compare.md and compare.tsv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
BASE=${1:-HEAD~1}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/compare-work
TSV=$OUT/compare.tsv
rm -rf "$W"
mkdir -p "$W/bin/base" "$W/bin/new"
: >"$TSV"

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "compare: $*" >&2; exit 1; }
[[ -x $ROOT/bin/git-lode ]] || die "bin/git-lode not found: run 'make build' first"
command -v fusermount3 >/dev/null || die "fusermount3 is missing: run 'make deps'"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing: run 'make deps'"

cleanup() {
	for m in $(awk -v w="$W" '$2 ~ "^"w {print $2}' /proc/self/mounts); do fusermount3 -uz "$m" 2>/dev/null || true; done
	[[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$W"
}
trap cleanup EXIT

base_sha=$(git -C "$ROOT" rev-parse --verify "$BASE^{commit}") || die "unknown revision $BASE"
log "building $BASE (${base_sha:0:12}) and the current bin/git-lode"
mkdir -p "$W/base-src"
git -C "$ROOT" archive "$base_sha" | tar -x -C "$W/base-src"
(cd "$W/base-src" && go build -o "$W/bin/base/git-lode" ./cmd/git-lode)
cp "$ROOT/bin/git-lode" "$W/bin/new/git-lode"
GEN=$W/bin/gen
(cd "$ROOT" && go build -o "$GEN" ./bench/gen)

log "data: ${SIZE_MB} MiB CSV"
"$GEN" csv -size "$((SIZE_MB * 1048576))" -seed 7 -dir "$W/data" >/dev/null
CSV=$(ls "$W"/data/*.csv | head -1)

GOPATH=$(go env GOPATH) GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export GOPATH GOMODCACHE GOCACHE GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 LODE_NO_PROGRESS=1
export GIT_CEILING_DIRECTORIES=$OUT
unset LODE_REMOTE_URL LODE_STORE_DIR GIT_LODE_SKIP_SMUDGE

# with BUILD CMD...: run CMD with BUILD's git-lode first on PATH, in its HOME.
with() {
	local b=$1
	shift
	HOME=$W/home-$b XDG_CONFIG_HOME=$W/home-$b/.config GIT_CONFIG_GLOBAL=$W/home-$b/.gitconfig \
		PATH=$W/bin/$b:$PATH "$@"
}
for b in base new; do
	mkdir -p "$W/home-$b"
	with $b git config --global user.name bench
	with $b git config --global user.email bench@lode.invalid
	with $b git config --global init.defaultBranch main
	with $b git lode install --global --skip-hooks >/dev/null
done

rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TSV"; echo "  $1 $2 = $3" >&2; }
now() { date +%s%N; }
secs() { echo "scale=3; ($2 - $1) / 1000000000" | bc; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for rep in $(seq 1 "$REPS"); do
	for b in base new; do
		log "rep $rep: $b"
		R=$W/repo-$b
		rm -rf "$R"
		with $b git init -q "$R"
		(cd "$R" && with $b git lode track '*.csv' >/dev/null)
		ln "$CSV" "$R/data.csv"
		sync
		t0=$(now)
		(cd "$R" && with $b git add data.csv .gitattributes && with $b git commit -q -m data)
		t1=$(now)
		rec "$b" add "$(secs "$t0" "$t1")"
		rm "$R/data.csv"
		sync
		t0=$(now)
		(cd "$R" && with $b /usr/bin/time -f '%M %U %S' -o "$W/rss" git checkout -- data.csv)
		t1=$(now)
		rec "$b" checkout "$(secs "$t0" "$t1")"
		read -r rss usr sys <"$W/rss"
		rec "$b" checkout_rss_kib "$rss"
		rec "$b" checkout_cpu "$(echo "$usr + $sys" | bc)"
		cmp -s "$R/data.csv" "$CSV" || die "$b: checkout differs"
		M=$W/mnt-$b
		mkdir -p "$M"
		(cd "$R" && with $b git lode mount HEAD "$M" 2>/dev/null)
		mpid=$(pgrep -n -f "git-lode mount --foreground" || true)
		c0=$(awk '{print $14 + $15}' "/proc/$mpid/stat" 2>/dev/null || echo 0)
		t0=$(now)
		cat "$M/data.csv" >/dev/null
		t1=$(now)
		c1=$(awk '{print $14 + $15}' "/proc/$mpid/stat" 2>/dev/null || echo 0)
		rec "$b" mount_first_read "$(secs "$t0" "$t1")"
		rec "$b" mount_cpu "$(echo "scale=3; ($c1 - $c0) / $(getconf CLK_TCK)" | bc)"
		fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M"
	done
done

get() { awk -F'\t' -v b="$1" -v k="$2" '$1 == b && $2 == k {print $3}' "$TSV" | median; }
{
	echo "# Before/after: $BASE (${base_sha:0:12}) vs $(git -C "$ROOT" describe --always --dirty)"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r); ${SIZE_MB} MiB text CSV; medians of $REPS, alternating builds; chunks local."
	echo
	echo "| measure | base | new | new / base |"
	echo "| --- | ---: | ---: | ---: |"
	for k in add checkout checkout_cpu mount_first_read mount_cpu; do
		x=$(get base $k) y=$(get new $k)
		echo "| $k (s) | $x | $y | $(echo "scale=3; $y / $x" | bc) |"
	done
	x=$(get base checkout_rss_kib) y=$(get new checkout_rss_kib)
	echo "| checkout peak RSS (MiB) | $((${x%.*} / 1024)) | $((${y%.*} / 1024)) | |"
	mb=$SIZE_MB
	for b in base new; do
		echo "| mount first read, $b (MiB/s) | $(echo "scale=0; $mb / $(get $b mount_first_read)" | bc) | | |"
	done
} >"$OUT/compare.md"
cat "$OUT/compare.md"
