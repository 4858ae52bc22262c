#!/usr/bin/env bash
# git lode diff: how long `git lode diff --md` takes between two revisions
# of the many-files dataset (BENCH_FILES files of 2-24 KiB, as
# bench/manyfiles.sh makes them; the second revision rewrites about 1% of
# them and adds 0.5% more) and between two versions of the text CSV of
# bench/run.sh (gen textcsv; the second has 1% more rows), lode only. Run
# after `make build`:
#
#   ./bench/diff.sh                                          # 100,000 files, a 1 GiB CSV
#   BENCH_FILES=2000 BENCH_CSV_SIZE=32M BENCH_REPS=1 ./bench/diff.sh   # smoke run, a minute
#
# Environment (defaults in brackets):
#   BENCH_FILES [100000]      files of the many-files dataset
#   BENCH_CSV_SIZE [1G]       size of the text CSV's first version
#   BENCH_REPS [3]            repetitions of each timed diff (the median is reported)
#   BENCH_OUT [bench/out]     writes $BENCH_OUT/diff.md and diff.tsv; scratch in $BENCH_OUT/diff-work
#   BENCH_KEEP [0]            1: keep the scratch directory
#
# Each diff is timed with GNU time (wall clock, CPU time and peak RSS; on a
# loaded machine the CPU time is the steadier figure), the page cache
# warm (the data was just written). What is timed:
#   files_md        git lode diff --md v1 v2 (1% of the files changed, 0.5% added)
#   files_workspace git lode diff --md v2, work tree clean (the same tree: git diff-index only)
#   files_dirty     git lode diff --md v2, with the next 1% rewritten in the work tree, not added
#   csv_md          git lode diff --md v1 v2 of the CSV (rows counted: both versions read)
#   csv_norows      the same with --no-rows (chunk lists only)
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
FILES=${BENCH_FILES:-100000}
CSV_SIZE=${BENCH_CSV_SIZE:-1G}
REPS=${BENCH_REPS:-3}
KEEP=${BENCH_KEEP:-0}
LODE=$ROOT/bin/git-lode
WORK=$OUT/diff-work
RAW=$OUT/diff.tsv

die() { echo "diff.sh: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
[[ $FILES =~ ^[0-9]+$ && $FILES -ge 200 ]] || die "BENCH_FILES must be a number >= 200"
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 ]] || die "BENCH_REPS must be a number >= 1"
[[ -x $LODE ]] || die "$LODE not found: run 'make build' first"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing: run 'make deps'"

rm -rf "$WORK"
mkdir -p "$WORK/home" "$OUT"
trap '[[ $KEEP == 1 ]] || rm -rf "$WORK"' EXIT
. "$ROOT/bench/lib.sh"
bench_isolate "$WORK/home" "$OUT"

(cd "$ROOT" && go build -o "$OUT/bin/gen" ./bench/gen)
GEN=$OUT/bin/gen
: >"$RAW"
meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta nproc "$(nproc)"
meta load "$(cut -d' ' -f1-3 /proc/loadavg)"
meta files "$FILES"
meta csv_size "$CSV_SIZE"
meta version "$(git-lode version)"

# tm NAME CMD...: run CMD REPS times, record each wall time and peak RSS;
# the last run's stdout goes to $WORK/NAME.out.
tm() {
	local name=$1 r
	shift
	for ((r = 1; r <= REPS; r++)); do
		/usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
			{ cat "$WORK/$name.err" >&2; die "$name: $* failed"; }
		read -r secs kb user sys <"$WORK/time"
		printf 'time\t%s\t%s\t%s\t%s\t%s\n' "$name" "$r" "$secs" "$kb" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" >>"$RAW"
		log "  $name rep $r: ${secs}s wall, $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')s CPU, $((kb / 1024)) MiB"
	done
}

# --- many files
log "many files: $FILES files, v1"
mkdir -p "$WORK/files" && cd "$WORK/files"
git init -q . && git lode install >/dev/null && git lode track 'data/**' >/dev/null
"$GEN" files -n "$FILES" -dir data -seed 1 >/dev/null
git add -A && git commit -q -m v1 && git tag v1
log "many files: v2 (1% rewritten, 0.5% added)"
"$GEN" files -n "$FILES" -dir data -seed 1 -change 1 >"$WORK/gen1.out"
"$GEN" files -n $((FILES / 200)) -dir data/new -seed 2 >/dev/null
git add -A && git commit -q -m v2 && git tag v2
tm files_md git lode diff --md v1 v2
head -c 600 "$WORK/files_md.out" >&2; echo >&2
grep -q "^\*\*lode diff\*\* \`v1\` → \`v2\`: $((FILES / 200)) added, [1-9][0-9]* modified, 0 deleted" "$WORK/files_md.out" ||
	die "files_md: unexpected summary: $(head -1 "$WORK/files_md.out")"
tm files_workspace git lode diff --md v2
grep -q ': 0 added, 0 modified, 0 deleted' "$WORK/files_workspace.out" || die "files_workspace: the clean work tree differs"
"$GEN" files -n "$FILES" -dir data -seed 3 -change 1 >/dev/null
tm files_dirty git lode diff --md v2
cd "$WORK" && rm -rf "$WORK/files"

# --- text CSV
log "text CSV: $CSV_SIZE, v1 and v2 (1% more rows)"
mkdir -p "$WORK/csv" && cd "$WORK/csv"
git init -q . && git lode install >/dev/null && git lode track '*.csv' >/dev/null
"$GEN" textcsv -size "$CSV_SIZE" -seed 1 -out data.csv
git add data.csv && git commit -q -m v1 && git tag v1
bytes=$(stat -c %s data.csv)
"$GEN" textcsv -size $((bytes + bytes / 100)) -seed 1 -out data.csv
git add data.csv && git commit -q -m v2 && git tag v2
meta csv_v1_bytes "$bytes"
meta csv_v2_bytes "$(stat -c %s data.csv)"
tm csv_md git lode diff --md v1 v2
cat "$WORK/csv_md.out" >&2
grep -q '| data.csv | modified | .* | [0-9]* → [0-9]* (+[1-9][0-9]*) |' "$WORK/csv_md.out" || die "csv_md: no row counts"
tm csv_norows git lode diff --md --no-rows v1 v2
cd "$WORK" && rm -rf "$WORK/csv"

# --- report: the median of each
{
	echo "# git lode diff ($(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
	echo
	echo "$FILES files (1% rewritten, 0.5% added); text CSV of $CSV_SIZE (+1% rows). Median of $REPS."
	echo
	echo "| diff | wall s | CPU s (user+sys) | peak RSS MiB |"
	echo "| --- | --- | --- | --- |"
	for name in files_md files_workspace files_dirty csv_md csv_norows; do
		awk -F'\t' -v n="$name" '$1 == "time" && $2 == n { print $4, $5, $6 }' "$RAW" | sort -n |
			awk -v n="$name" '{ t[NR] = $1; m[NR] = $2; c[NR] = $3 } END { i = int((NR + 1) / 2); printf "| %s | %.2f | %.2f | %d |\n", n, t[i], c[i], m[i] / 1024 }'
	done
} >"$OUT/diff.md"
cat "$OUT/diff.md"
