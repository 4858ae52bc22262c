#!/usr/bin/env bash
# Migration from Git LFS: time and store size of 'git lode migrate import
# --from-lfs' on two histories built with the real git-lfs, against Git
# LFS's own object store before the migration. Run alone after 'make build':
#
#   ./bench/migrate.sh                                   # 5 CSV versions of 256 MiB, 10,000 files
#   BENCH_SIZE_MB=32 BENCH_FILES=1000 ./bench/migrate.sh  # smoke run, under a minute
#
# History 1 ("csv"): data.csv committed five times: the four CSV versions of
# bench/gen (v1, v2 = 1% more rows, v3 = 0.1% rewritten in the middle, v4 =
# a line inserted after the header) and v5 = v4 with another 1% of rows.
# History 2 ("files"): a folder of BENCH_FILES small files (bench/gen files,
# as bench/manyfiles.sh), committed, then again with about 1% of them
# rewritten (-change 1).
# Each is migrated once (all branches); the run checks that the last and the
# first commit check out the same files as before, and runs git lode verify.
#
# Environment (defaults in brackets):
#   BENCH_SIZE_MB [256]   size of CSV v1 (MiB)
#   BENCH_FILES [10000]   files in the folder
#   BENCH_OUT [bench/out] where results go: migrate.md, migrate.tsv;
#                         scratch in $BENCH_OUT/migrate-work
#   BENCH_KEEP [0]        1: keep the scratch directory
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
SIZE_MB=${BENCH_SIZE_MB:-256}
FILES=${BENCH_FILES:-10000}
KEEP=${BENCH_KEEP:-0}
LODE=$ROOT/bin/git-lode

die() { echo "migrate: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for v in SIZE_MB FILES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[[ -x $LODE ]] || die "$LODE not found: run 'make build' first"
for t in git git-lfs; do command -v "$t" >/dev/null || die "$t is not installed: run 'make deps'"; done
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing: run 'make deps'"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/migrate-work
RAW=$OUT/migrate.tsv
rm -rf "$W"
mkdir -p "$W/home" "$W/data"
: >"$RAW"
need_mb=$((SIZE_MB * 5 * 4 + FILES * 100 / 1024 + 1024))
avail_mb=$(df -Pm "$OUT" | awk 'NR==2 {print $4}')
((avail_mb > need_mb)) || die "need about ${need_mb} MiB free under $OUT, have ${avail_mb} MiB"

cleanup() {
	cd /
	if [[ $KEEP != 1 ]]; then rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'echo "migrate: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# --- isolated environment (bench/lib.sh), with fixed commit dates
. "$ROOT/bench/lib.sh"
bench_isolate "$W/home" "$OUT"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
command -v git-lode | grep -qx "$LODE" || die "git-lode on PATH is not $LODE"

(cd "$ROOT" && go build -o "$OUT/bin/gen" ./bench/gen)
GEN=$OUT/bin/gen

meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
val() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }
# file_bytes DIR: the bytes of the files under DIR (not of directories:
# Git LFS's two levels of fan-out directories would count 4 KiB each).
file_bytes() { if [[ -e $1 ]]; then find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; else echo 0; fi; }
# disk_bytes DIR: the disk DIR takes, directories included (du -sk).
disk_bytes() { if [[ -e $1 ]]; then echo $(($(du -sk "$1" | cut -f1) * 1024)); else echo 0; fi; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta nproc "$(nproc)"
meta load "$(cut -d' ' -f1-3 /proc/loadavg)"
meta git "$(git --version | awk '{print $3}')"
meta git_lfs "$(git lfs version | awk '{print $1}' | cut -d/ -f2)"
meta lode_commit "$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo unknown)"

# sums REV: the SHA-256 of every file a checkout of REV writes, but .gitattributes.
sums() {
	git checkout -q --detach "$1"
	git ls-files -z | grep -zv '\.gitattributes$' | xargs -0 sha256sum
}

# migrate NAME: migrate the repository in the current directory, recording
# Git LFS's store before, lode's after, the time, and checking two commits.
migrate() {
	local name=$1 first last lfs_b lfs_disk lode_b
	first=$(git rev-list --max-parents=0 HEAD)
	last=$(git rev-parse HEAD)
	lfs_b=$(file_bytes .git/lfs/objects)
	lfs_disk=$(disk_bytes .git/lfs/objects)
	sums "$first" >"$W/$name-first.before"
	sums "$last" >"$W/$name-last.before"
	git checkout -q main
	git lode install --local >/dev/null
	log "$name: migrating $(git rev-list --count HEAD) commits, Git LFS store $(mib "$lfs_b") MiB"
	sync
	/usr/bin/time -f '%e %M' -o "$W/time" git lode migrate import --from-lfs --everything >"$W/$name.map" 2>"$W/$name.err" ||
		{ cat "$W/$name.err" >&2; die "$name: the migration failed"; }
	read -r secs rss <"$W/time"
	lode_b=$(file_bytes .git/lode)
	val "$name" lfs_objects_bytes "$lfs_b"
	val "$name" lode_store_bytes "$lode_b"
	val "$name" lfs_objects_disk "$lfs_disk"
	val "$name" lode_store_disk "$(disk_bytes .git/lode)"
	val "$name" migrate_seconds "$secs"
	val "$name" migrate_max_rss_kib "$rss"
	val "$name" commits "$(wc -l <"$W/$name.map")"
	git lode stats >"$W/$name.stats"
	val "$name" dedup "$(awk -F': *' '/^Dedup ratio/ {print $2}' "$W/$name.stats")"
	val "$name" logical_bytes "$(awk '/^Logical bytes/ {gsub(/[()]/, "", $NF); print $NF}' "$W/$name.stats")"
	git lode verify >/dev/null 2>&1 && val "$name" verify pass || val "$name" verify fail
	local nfirst nlast
	nfirst=$(awk -v c="$first" '$1 == c {print $2}' "$W/$name.map")
	nlast=$(awk -v c="$last" '$1 == c {print $2}' "$W/$name.map")
	if cmp -s <(sums "$nfirst") "$W/$name-first.before" && cmp -s <(sums "$nlast") "$W/$name-last.before"; then
		val "$name" same_files pass
	else
		val "$name" same_files fail
	fi
	git checkout -q main
	log "$name: $secs s, lode store $(mib "$lode_b") MiB"
}

# ---------------------------------------------------------------- csv
SIZE=$((SIZE_MB * 1048576))
log "generating 5 CSV versions of ~${SIZE_MB} MiB"
"$GEN" csv -size "$SIZE" -seed 1 -dir "$W/data" >/dev/null
# v5: v4 and about 1% more rows (of another seed, without their header).
"$GEN" csv -size $((SIZE / 100)) -seed 2 -dir "$W/data/more" >/dev/null
{ cat "$W/data/v4.csv"; tail -n +2 "$W/data/more/v1.csv"; } >"$W/data/v5.csv"
rm -rf "$W/data/more"
logical=0
for k in 1 2 3 4 5; do logical=$((logical + $(stat -c %s "$W/data/v$k.csv"))); done
val csv logical_total "$logical"
mkdir "$W/csv" && cd "$W/csv" && git init -q
git lfs install --local >/dev/null && git lfs track "*.csv" >/dev/null
for k in 1 2 3 4 5; do
	cp "$W/data/v$k.csv" data.csv
	git add .gitattributes data.csv && git commit -q -m "data v$k"
done
rm -f "$W"/data/v*.csv
migrate csv
cd "$W" && rm -rf "$W/csv"

# ---------------------------------------------------------------- files
log "generating $FILES files"
mkdir "$W/files" && cd "$W/files" && git init -q
git lfs install --local >/dev/null && git lfs track "data/**" >/dev/null
"$GEN" files -n "$FILES" -dir data -seed 1 >/dev/null
git add -A && git commit -q -m "files"
"$GEN" files -n "$FILES" -dir data -seed 1 -change 1 >/dev/null
git add -A && git commit -q -m "files, 1% rewritten"
val files logical_total "$(file_bytes data)"
migrate files

# ---------------------------------------------------------------- report
{
	echo "## Migration from Git LFS (bench/migrate.sh)"
	echo
	awk -F'\t' '$1 == "meta" {printf "- %s: %s\n", $2, $3}' "$RAW"
	echo
	echo "Store sizes are the bytes of their files; on disk (du, directories and blocks included) in brackets."
	echo
	echo "| history | commits | Git LFS objects before | lode store after | store ratio | dedup | migrate time | max RSS | same files | verify |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	for h in csv files; do
		g() { awk -F'\t' -v h="$h" -v k="$1" '$1 == h && $2 == k {print $3}' "$RAW"; }
		printf '| %s | %s | %s MiB (%s) | %s MiB (%s) | %s | %s | %s s | %s MiB | %s | %s |\n' "$h" "$(g commits)" \
			"$(mib "$(g lfs_objects_bytes)")" "$(mib "$(g lfs_objects_disk)")" "$(mib "$(g lode_store_bytes)")" "$(mib "$(g lode_store_disk)")" \
			"$(awk -v a="$(g lfs_objects_bytes)" -v b="$(g lode_store_bytes)" 'BEGIN {printf "%.2fx", a / b}')" \
			"$(g dedup)" "$(g migrate_seconds)" "$(awk -v k="$(g migrate_max_rss_kib)" 'BEGIN {printf "%.0f", k / 1024}')" \
			"$(g same_files)" "$(g verify)"
	done
} >"$OUT/migrate.md"
cat "$OUT/migrate.md"
