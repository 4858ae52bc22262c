#!/usr/bin/env bash
# lode vs Git LFS (and restic as the dedup reference) on generated data.
# Run through `make bench` (after `make build`); see bench/README.md.
#
# Environment (defaults in brackets):
#   BENCH_SIZE_MB [1024]   size of the random file and of CSV v1, in MiB
#   BENCH_REPS [3]         repetitions of the timed add/commit and checkout
#   BENCH_BIG_GB [10]      size of the stream piped into `git-lode clean` (0 skips)
#   BENCH_SPARSE_GB [5]    size of the sparse round-trip file (0 skips)
#   BENCH_DROP_CACHES [0]  1: drop the page cache before every timed step
#                          (root only; same for both tools). Default: warm cache.
#   BENCH_OUT [bench/out]  where results go; scratch lives in $BENCH_OUT/work
#   BENCH_KEEP [0]         1: keep the scratch directory at the end
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
BIG_GB=${BENCH_BIG_GB:-10}
SPARSE_GB=${BENCH_SPARSE_GB:-5}
DROP=${BENCH_DROP_CACHES:-0}
KEEP=${BENCH_KEEP:-0}
LODE=$ROOT/bin/git-lode

for v in SIZE_MB REPS BIG_GB SPARSE_GB; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: BENCH_$v must be a whole number (got '${!v}')" >&2; exit 2; }
done
((SIZE_MB > 0 && REPS > 0)) || { echo "bench: BENCH_SIZE_MB and BENCH_REPS must be > 0" >&2; exit 2; }

die() { echo "bench: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ -x $LODE ]] || die "$LODE not found: run 'make build' first"
for t in git git-lfs restic b3sum; do
	command -v "$t" >/dev/null || die "$t is not installed: run 'make deps'"
done
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing: run 'make deps'"
if [[ $DROP == 1 ]] && ! [[ -w /proc/sys/vm/drop_caches ]]; then
	die "BENCH_DROP_CACHES=1 needs root (cannot write /proc/sys/vm/drop_caches)"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work
DATA=$WORK/data
RAW=$OUT/raw.tsv
rm -rf "$WORK"
mkdir -p "$WORK/home" "$DATA" "$OUT/bin"
: >"$RAW"

cleanup() {
	cd /
	if [[ $KEEP != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# Rough disk need: data (random + 4 CSV versions), the LFS repo of the four
# versions with its working tree, and the larger of the big-stream store and
# the sparse checkout.
need_mb=$((SIZE_MB * 12 + (BIG_GB > SPARSE_GB ? BIG_GB : SPARSE_GB * 2) * 1024 + 1024))
avail_mb=$(df -Pm "$OUT" | awk 'NR==2 {print $4}')
((avail_mb > need_mb)) || die "need about ${need_mb} MiB free under $OUT, have ${avail_mb} MiB"

# --- isolated environment: the user's git configuration is never read or written
export HOME=$WORK/home
export XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
export GIT_CONFIG_GLOBAL=$HOME/.gitconfig GIT_CONFIG_NOSYSTEM=1
export GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
export PATH=$ROOT/bin:$PATH
export RESTIC_PASSWORD=lode-bench
for v in $(compgen -e); do
	case $v in
	LODE_* | GIT_LODE_* | GIT_LFS_* | GIT_TRACE* | GIT_DIR | GIT_WORK_TREE | GIT_INDEX_FILE | GIT_OBJECT_DIRECTORY | GIT_ALTERNATE_OBJECT_DIRECTORIES | GIT_CEILING_DIRECTORIES | RESTIC_REPOSITORY* | RESTIC_PASSWORD_*)
		unset "$v"
		;;
	esac
done
git config --global user.name "lode bench"
git config --global user.email "bench@lode.invalid"
git config --global init.defaultBranch main
git config --global advice.detachedHead false
git config --global gc.auto 0

command -v git-lode | grep -qx "$LODE" || die "git-lode on PATH is not $LODE"

# --- tools
log "building the generator and the report tool"
(cd "$ROOT" && go build -o "$OUT/bin/gen" ./bench/gen && go build -o "$OUT/bin/report" ./bench/report && go build -o "$OUT/bin/floor" ./bench/floor)
GEN=$OUT/bin/gen

meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
size() { printf 'size\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
check() { printf 'check\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }
du_b() { du -sb "$1" | cut -f1; }

meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta nproc "$(nproc)"
meta ram "$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta os "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")"
meta git "$(git --version | awk '{print $3}')"
meta git_lfs "$(git lfs version | awk '{print $1}' | cut -d/ -f2)"
meta restic "$(restic version | awk '{print $2}')"
meta go "$(go env GOVERSION)"
meta lode "$("$LODE" version 2>/dev/null | sed 's/^git-lode //')"
meta lode_commit "$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo unknown)"
meta size_mb "$SIZE_MB"
meta reps "$REPS"
meta big_gb "$BIG_GB"
meta sparse_gb "$SPARSE_GB"
meta cache "$([[ $DROP == 1 ]] && echo "dropped before each timed step" || echo "warm (inputs in page cache), sync before each timed step")"

# bg_busy: percentage of all CPUs busy over half a second while the bench
# itself is idle, i.e. load from other processes on the machine.
bg_busy() {
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)}'
}

# record MEASURE TOOL REP T0_NS T1_NS BG: append a time line, using the
# GNU time output in $WORK/.rss (peak RSS KiB, user s, system s).
LAST=0
record() {
	local rss usr sys
	read -r rss usr sys < <(tail -n1 "$WORK/.rss")
	LAST=$(awk -v a="$4" -v b="$5" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
	printf 'time\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$LAST" "$rss" \
		"$(awk -v u="$usr" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')" "$6" >>"$RAW"
}

# tm MEASURE TOOL REP CMD...: run CMD under GNU time; record wall seconds,
# peak RSS (KiB, max over CMD and the children it waited for: git and its
# filter process), CPU seconds (user+system of that tree) and the
# background load measured just before.
tm() {
	local m=$1 tool=$2 rep=$3 t0 t1 bg rc=0
	shift 3
	sync
	if [[ $DROP == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches; fi
	bg=$(bg_busy)
	t0=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$WORK/.rss" "$@" || rc=$?
	t1=$(date +%s%N)
	if ((rc != 0)); then
		echo "bench: '$*' exited with status $rc (in $PWD)" >&2
		return "$rc"
	fi
	record "$m" "$tool" "$rep" "$t0" "$t1" "$bg"
}

# new_repo TOOL DIR PATTERN: a fresh repository with TOOL's filter for PATTERN.
new_repo() {
	local tool=$1 dir=$2 pat=$3
	cd "$WORK"
	rm -rf "$dir"
	git init -q "$dir"
	cd "$dir"
	case $tool in
	lode) git lode install >/dev/null && git lode track "$pat" >/dev/null ;;
	lfs) git lfs install --local >/dev/null && git lfs track "$pat" >/dev/null ;;
	floor) echo "$pat filter=floor" >.gitattributes ;; # the rest is set up by the caller
	esac
	git add .gitattributes
	git commit -q -m attributes
}

# order REP: lode first on odd repetitions, LFS first on even ones.
order() { if (($1 % 2)); then echo "lode lfs"; else echo "lfs lode"; fi; }

store_of() { if [[ $1 == lode ]]; then echo .git/lode; else echo .git/lfs/objects; fi; }

# Refresh the index after a checkout, untimed: files written within the
# index's timestamp second are "racily clean" and would make the *next*
# command re-run the clean filter on them. A user's next command comes later.
settle() { sleep 1.1; git update-index -q --refresh >/dev/null || true; }

# ---------------------------------------------------------------- data
SIZE=$((SIZE_MB * 1048576))
log "generating data: ${SIZE_MB} MiB random, 4 CSV versions of ~${SIZE_MB} MiB"
"$GEN" random -size "$SIZE" -seed 1 -o "$DATA/random.bin"
csvinfo=$("$GEN" csv -size "$SIZE" -seed 1 -dir "$DATA")
meta csv_layout "$csvinfo"
size random "$(stat -c %s "$DATA/random.bin")"
logical=0
for k in 1 2 3 4; do
	s=$(stat -c %s "$DATA/v$k.csv")
	size "csv_v$k" "$s"
	logical=$((logical + s))
done
size csv_logical_total "$logical"

# ---------------------------------------------------------------- warm-up
log "warm-up (untimed): page-cache churn and one add per tool"
dd if=/dev/zero of="$WORK/warm" bs=1M count=$((SIZE_MB * 2)) status=none
rm -f "$WORK/warm"
cat "$DATA"/* >/dev/null
for tool in lode lfs; do
	new_repo "$tool" "warm-$tool" "*.bin"
	ln "$DATA/random.bin" data.bin
	git add data.bin && git commit -q -m warm
	git checkout -q HEAD~1 && git checkout -q main
	cd "$WORK" && rm -rf "warm-$tool"
done

# ---------------------------------------------------------------- 1. add + commit
for r in $(seq 1 "$REPS"); do
	for kind in random csv; do
		for tool in $(order "$r"); do
			log "1. add+commit $kind, $tool, rep $r/$REPS"
			if [[ $kind == random ]]; then
				new_repo "$tool" "add-$tool" "*.bin"
				ln "$DATA/random.bin" data.bin
				tm add_random "$tool" "$r" bash -c 'git add data.bin && git commit -q -m data'
			else
				new_repo "$tool" "add-$tool" "*.csv"
				ln "$DATA/v1.csv" data.csv
				tm add_csv "$tool" "$r" bash -c 'git add data.csv && git commit -q -m data'
			fi
			size "add_${kind}_store_${tool}_rep$r" "$(du_b "$(store_of "$tool")")"
			if [[ $tool == lode && $r == 1 ]]; then
				if git lode verify >/dev/null 2>&1; then check "verify_add_$kind" pass ""; else check "verify_add_$kind" fail "git lode verify failed"; fi
			fi
			cd "$WORK" && rm -rf "add-$tool"
		done
	done
done

# ---------------------------------------------------------------- 2. four versions
for tool in lode lfs; do
	new_repo "$tool" "ver-$tool" "*.csv"
	for k in 1 2 3 4; do
		log "2. commit CSV v$k, $tool"
		ln -f "$DATA/v$k.csv" data.csv
		tm "versions_v$k" "$tool" 1 bash -c "git add data.csv && git commit -q -m v$k"
		git tag "v$k"
	done
	size "store_$tool" "$(du_b "$(store_of "$tool")")"
	if [[ $tool == lode ]]; then
		git lode stats --json >"$OUT/lode-stats-versions.json"
		size store_lode_stats "$(sed -n 's/.*"stored_bytes": *\([0-9]*\).*/\1/p' "$OUT/lode-stats-versions.json")"
		if git lode verify >/dev/null 2>&1; then check verify_versions pass ""; else check verify_versions fail "git lode verify failed"; fi
	fi
done

log "2. restic backup of the four versions"
mkdir -p "$WORK/restic-src"
restic init --quiet --repo "$WORK/restic" >/dev/null
meta restic_repo_version "$(restic cat config --quiet --repo "$WORK/restic" 2>/dev/null | sed -n 's/.*"version": *\([0-9]*\).*/\1/p')"
for k in 1 2 3 4; do
	ln -f "$DATA/v$k.csv" "$WORK/restic-src/data.csv"
	tm "versions_v$k" restic 1 restic backup --quiet --repo "$WORK/restic" "$WORK/restic-src"
done
size store_restic "$(du_b "$WORK/restic")"
rm -rf "$WORK/restic" "$WORK/restic-src"

# ---------------------------------------------------------------- 3. checkout
# The floor: git with a no-op filter-process (bench/floor) that streams the
# file from the page cache. Its blobs hold the data file's path; it is what
# git itself costs, whatever the filter.
new_repo floor ver-floor "*.csv"
git config filter.floor.process "$OUT/bin/floor"
git config filter.floor.required true
export FLOOR_FILES="$DATA/v1.csv:$DATA/v4.csv"
for k in 1 4; do
	blob=$(echo "$DATA/v$k.csv" | git hash-object -w --stdin)
	git update-index --add --cacheinfo "100644,$blob,data.csv"
	git commit -q -m "v$k"
	git tag "v$k"
done
git checkout -q -f v4 && settle

# One untimed round trip each first: git holds a smudged file whole in memory
# (about its size in RSS), and the first time that memory is touched is slow.
for tool in lode lfs floor; do
	cd "$WORK/ver-$tool"
	git checkout -q v1 && settle && git checkout -q v4 && settle
done
for r in $(seq 1 "$REPS"); do
	for tool in $(order "$r") floor; do
		log "3. checkout v4->v1->v4, $tool, rep $r/$REPS"
		cd "$WORK/ver-$tool"
		tm checkout_v4_to_v1 "$tool" "$r" git checkout -q v1
		if ((r == 1)); then
			if cmp -s data.csv "$DATA/v1.csv"; then check "checkout_v1_$tool" pass ""; else check "checkout_v1_$tool" fail "data.csv differs from v1"; fi
		fi
		settle
		tm checkout_v1_to_v4 "$tool" "$r" git checkout -q v4
		if ((r == 1)); then
			if cmp -s data.csv "$DATA/v4.csv"; then check "checkout_v4_$tool" pass ""; else check "checkout_v4_$tool" fail "data.csv differs from v4"; fi
		fi
		settle
	done
done
rm -rf "$WORK/ver-lode" "$WORK/ver-lfs" "$WORK/ver-floor"

# ---------------------------------------------------------------- 4. memory
log "4. peak RSS of one-shot clean"
new_repo lode rss "*.bin"
tm clean_random lode 1 bash -c "git-lode clean big.bin <'$DATA/random.bin' >/dev/null"
tm clean_csv lode 1 bash -c "git-lode clean big.csv <'$DATA/v4.csv' >/dev/null"
cd "$WORK" && rm -rf rss

if ((BIG_GB > 0)); then
	log "4. ${BIG_GB} GiB stream: gen | git-lode clean"
	new_repo lode big "*.bin"
	sync
	bg=$(bg_busy)
	t0=$(date +%s%N)
	"$GEN" random -size "${BIG_GB}G" -seed 10 |
		/usr/bin/time -f '%M %U %S' -o "$WORK/.rss" git-lode clean big.bin >"$WORK/big.ptr"
	t1=$(date +%s%N)
	record clean_stream lode 1 "$t0" "$t1" "$bg"
	want=$((BIG_GB * 1073741824))
	if grep -qx "size $want" "$WORK/big.ptr"; then check clean_stream_pointer pass ""; else check clean_stream_pointer fail "pointer does not say size $want"; fi
	size clean_stream_store "$(du_b .git/lode)"
	cd "$WORK" && rm -rf big "$WORK/big.ptr"
fi

# ---------------------------------------------------------------- 5. > 4 GiB round trip
sparse_roundtrip() {
	local f=sparse.bin want oid ptr_oid
	new_repo lode sparse "*.bin"
	truncate -s "${SPARSE_GB}G" "$f"
	local total=$((SPARSE_GB * 1073741824)) off i=0
	# a few MiB of random data: at the start, past 1 GiB (unaligned), past
	# 4 GiB (where 32-bit offsets would wrap) and at the very end
	for off in 0 $((1073741824 + 777)) $((4294967296 + 12345)) $((total - 1048576)); do
		((off >= 0 && off + 1048576 <= total)) || continue
		i=$((i + 1))
		"$GEN" random -size 1M -seed $((100 + i)) | dd of="$f" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none iflag=fullblock
	done
	want=$(b3sum --no-names "$f")
	cp --sparse=always "$f" "$WORK/sparse.orig"
	tm sparse_add lode 1 git add "$f" || { check sparse_roundtrip fail "git add failed"; return 1; }
	tm sparse_commit lode 1 git commit -q -m sparse || { check sparse_roundtrip fail "git commit failed"; return 1; }
	rm -f "$f"
	tm sparse_checkout lode 1 git checkout -- "$f" || { check sparse_roundtrip fail "git checkout failed"; return 1; }
	tm sparse_cmp lode 1 cmp "$f" "$WORK/sparse.orig" || { check sparse_roundtrip fail "cmp: checked-out file differs"; return 1; }
	ptr_oid=$(git cat-file -p "HEAD:$f" | sed -n 's/^oid blake3://p')
	[[ $ptr_oid == "$want" ]] || { check sparse_roundtrip fail "pointer oid $ptr_oid != b3sum $want"; return 1; }
	git cat-file -p "HEAD:$f" | grep -qx "size $total" || { check sparse_roundtrip fail "pointer size is not $total"; return 1; }
	size sparse_store "$(du_b .git/lode)"
	check sparse_roundtrip pass "cmp equal, b3sum = pointer oid"
}
if ((SPARSE_GB > 0)); then
	log "5. ${SPARSE_GB} GiB sparse file round trip"
	sparse_roundtrip || log "5. sparse round trip FAILED (see results)"
	cd "$WORK" && rm -rf sparse "$WORK/sparse.orig"
fi

# ---------------------------------------------------------------- report
rm -rf "$DATA"
"$OUT/bin/report" -raw "$RAW" -md "$OUT/results.md" -json "$OUT/results.json"
log "wrote $OUT/results.md and $OUT/results.json"
