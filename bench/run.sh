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
#   BENCH_MOUNT [1]        0: skip measurement 7 (bench/mount.sh: reads through
#                          `git lode mount` vs `restic mount`, remote-only reads)
#   BENCH_REMOTE [1]       0: skip measurement 6 (push to and clone from a
#                          local S3 server, lode vs Git LFS)
#   BENCH_PRUNE [1]        0: skip measurement 9 (bench/prune.sh: a retrain
#                          loop, then local and remote prune, against git lfs prune)
#   BENCH_MANYFILES [1]    0: skip measurement 8 (bench/manyfiles.sh: BENCH_FILES
#                          small files, lode vs Git LFS; its variables there)
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
BIG_GB=${BENCH_BIG_GB:-10}
SPARSE_GB=${BENCH_SPARSE_GB:-5}
DROP=${BENCH_DROP_CACHES:-0}
KEEP=${BENCH_KEEP:-0}
REMOTE=${BENCH_REMOTE:-1}
LODE=$ROOT/bin/git-lode

for v in SIZE_MB REPS BIG_GB SPARSE_GB; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: BENCH_$v must be a whole number (got '${!v}')" >&2; exit 2; }
done
((SIZE_MB > 0 && REPS > 0)) || { echo "bench: BENCH_SIZE_MB and BENCH_REPS must be > 0" >&2; exit 2; }
[[ $REMOTE == 0 || $REMOTE == 1 ]] || { echo "bench: BENCH_REMOTE must be 0 or 1 (got '$REMOTE')" >&2; exit 2; }

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

SERVERS=$WORK/servers # the S3 server's folder (LODE_SERVERS_DIR), measurement 6
SERVERS_UP=0
cleanup() {
	cd /
	if [[ $SERVERS_UP == 1 ]]; then
		LODE_SERVERS_DIR=$SERVERS "$ROOT/integration/servers/run.sh" stop >/dev/null 2>&1 ||
			echo "bench: could not stop the S3 server (pid file in $SERVERS)" >&2
	fi
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
# Go keeps the user's module and build caches and its settings file (GOENV,
# e.g. GOPROXY/GOFLAGS): the S3 server of measurement 6 is a Go binary found
# in GOPATH/bin and started through `go run`.
GOPATH=$(go env GOPATH) GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE) GOENV=$(go env GOENV)
export GOPATH GOMODCACHE GOCACHE GOENV
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
# The scratch directory lies inside lode's own repository: git (and so
# git-lode and git-lfs) must never find that one from a scratch folder.
export GIT_CEILING_DIRECTORIES=$OUT
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

# The S3 server for measurement 6, started now so that a missing server
# fails the run before the long measurements; it idles until then.
if [[ $REMOTE == 1 ]]; then
	log "starting the local S3 server (integration/servers/run.sh start)"
	SERVERS_UP=1
	LODE_SERVERS_DIR=$SERVERS "$ROOT/integration/servers/run.sh" start >"$WORK/servers.out" 2>&1 ||
		{ cat "$WORK/servers.out" >&2; die "could not start the S3 server (BENCH_REMOTE=0 skips measurement 6)"; }
fi

meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
size() { printf 'size\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
check() { printf 'check\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }
count() { printf 'count\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
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
meta remote "$REMOTE"
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
	lode) git lode install --local >/dev/null && git lode track "$pat" >/dev/null ;;
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
"$GEN" textcsv -size "$SIZE" -seed 1 -out "$DATA/text.csv" # ids, timestamps, names, words: compression-bound
size textcsv "$(stat -c %s "$DATA/text.csv")"

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
	for kind in random csv textcsv; do
		for tool in $(order "$r"); do
			log "1. add+commit $kind, $tool, rep $r/$REPS"
			if [[ $kind == random ]]; then
				new_repo "$tool" "add-$tool" "*.bin"
				ln "$DATA/random.bin" data.bin
				tm add_random "$tool" "$r" bash -c 'git add data.bin && git commit -q -m data'
			elif [[ $kind == csv ]]; then
				new_repo "$tool" "add-$tool" "*.csv"
				ln "$DATA/v1.csv" data.csv
				tm add_csv "$tool" "$r" bash -c 'git add data.csv && git commit -q -m data'
			else
				new_repo "$tool" "add-$tool" "*.csv"
				ln "$DATA/text.csv" data.csv
				tm add_textcsv "$tool" "$r" bash -c 'git add data.csv && git commit -q -m data'
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

# ---------------------------------------------------------------- 6. remote
# The CSV chain pushed to a remote, then a fresh clone. lode pushes to the
# local S3 server (versitygw, started above) and, from the same working
# repository, to a second bare repository with no lode remote configured, so
# that its data lands in <bare>/lode (the embedded default). Git LFS pushes to
# its bare repository by path, through its built-in standalone file transfer
# (Git LFS has no S3 transport: it needs an LFS server).

# file_bytes DIR: the sizes of the files under DIR, summed (0 if DIR does
# not exist yet). Unlike du, no directory entries: the bytes of the objects.
file_bytes() {
	if [[ -e $1 ]]; then find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; else echo 0; fi
}

# to_bytes NUMBER UNIT: lode's human-readable size ("29.3" "MiB") in bytes.
to_bytes() {
	awk -v n="$1" -v u="$2" 'BEGIN {
		e = index("KMGTPE", substr(u, 1, 1)); if (u == "B") e = 0
		printf "%.0f", n * 1024 ^ e }'
}

# push_one TOOL K GITREMOTE STOREDIR: `git push` (timed) of main; records
# the bytes that appeared under STOREDIR (what the server or the bare
# repository now holds in addition) and, for lode, the payload, chunks,
# packs and requests its pre-push hook printed.
PUSH_RE='pushed ([0-9]+) file\(s\) to .*: ([0-9]+) chunk\(s\), ([0-9.]+) ([KMGTPE]?i?B)( in ([0-9]+) pack\(s\))?, ([0-9]+) request\(s\)'
push_one() {
	local tool=$1 k=$2 rem=$3 store=$4 before after line err=$WORK/push.err
	before=$(file_bytes "$store")
	if [[ $tool == lode ]]; then
		tm "push_v$k" "$tool" 1 env LODE_REMOTE_URL="$S3URL" bash -c "git push -q '$rem' main >'$err' 2>&1"
	else
		tm "push_v$k" "$tool" 1 bash -c "git push -q '$rem' main >'$err' 2>&1"
	fi
	after=$(file_bytes "$store")
	size "remote_${tool}_v${k}_stored" $((after - before))
	sed 's/^/    /' "$err" >&2
	[[ $tool == lfs ]] && return 0
	line=$(grep -E '^lode: (pushed|nothing to push)' "$err" | tail -n1 || true)
	if [[ $line =~ $PUSH_RE ]]; then
		count "remote_${tool}_v${k}_files" "${BASH_REMATCH[1]}"
		count "remote_${tool}_v${k}_chunks" "${BASH_REMATCH[2]}"
		size "remote_${tool}_v${k}_payload" "$(to_bytes "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}")"
		count "remote_${tool}_v${k}_packs" "${BASH_REMATCH[6]:-0}"
		count "remote_${tool}_v${k}_requests" "${BASH_REMATCH[7]}"
		check "push_summary_${tool}_v$k" pass ""
	else
		check "push_summary_${tool}_v$k" fail "no 'lode: pushed' line from the pre-push hook: ${line:-none}"
	fi
}

if [[ $REMOTE == 1 ]]; then
	eval "$(LODE_SERVERS_DIR=$SERVERS "$ROOT/integration/servers/run.sh" env)"
	S3PREFIX=bench-$(date -u +%Y%m%dT%H%M%S)-$$
	S3URL=s3://$LODE_TEST_S3_BUCKET/$S3PREFIX
	S3DIR=$SERVERS/s3-data/$LODE_TEST_S3_BUCKET/$S3PREFIX # versitygw's POSIX back end: an object is a file
	meta remote_s3 "versitygw $(sed -n 's/.*versitygw@\(v[0-9.]*\).*/\1/p' "$ROOT/integration/servers/run.sh" | head -n1) on $AWS_ENDPOINT_URL, POSIX back end on the same disk; $S3URL"
	# Clones smudge through the global filters, as a user's machine would.
	cd "$WORK"
	git lode install --global --skip-hooks >/dev/null
	git lfs install --skip-repo >/dev/null

	cd "$WORK"
	git init -q --bare remote-lode.git
	git init -q --bare remote-lode-local.git
	git init -q --bare remote-lfs.git
	for tool in lode lfs; do
		new_repo "$tool" "push-$tool" "*.csv"
		git remote add origin "$WORK/remote-$tool.git"
	done
	git -C "$WORK/push-lode" remote add local "$WORK/remote-lode-local.git"
	for k in 1 2 3 4; do
		log "6. commit and push CSV v$k: lode -> S3, lode -> <bare>/lode, Git LFS -> bare repository"
		cd "$WORK/push-lode"
		ln -f "$DATA/v$k.csv" data.csv
		git add data.csv && git commit -q -m "v$k"
		push_one lode "$k" origin "$S3DIR"
		push_one lode-local "$k" local "$WORK/remote-lode-local.git/lode"
		cd "$WORK/push-lfs"
		ln -f "$DATA/v$k.csv" data.csv
		git add data.csv && git commit -q -m "v$k"
		push_one lfs "$k" origin "$WORK/remote-lfs.git/lfs/objects"
	done
	size remote_lode_total "$(file_bytes "$S3DIR")"
	size remote_lode-local_total "$(file_bytes "$WORK/remote-lode-local.git/lode")"
	size remote_lfs_total "$(file_bytes "$WORK/remote-lfs.git/lfs/objects")"
	size remote_lode_bare_lode_dir "$(file_bytes "$WORK/remote-lode.git/lode")" # expected 0: the data went to S3
	# Does Git LFS's local transfer copy, or hard-link the objects?
	obj=$(find "$WORK/remote-lfs.git/lfs/objects" -type f | head -n1)
	if [[ -n $obj && $(stat -c %h "$obj") -gt 1 ]]; then
		meta lfs_transfer "it hard-linked the objects (same file system): no bytes copied"
	else
		meta lfs_transfer "it copied the objects"
	fi
	log "6. git lode verify --remote (S3)"
	cd "$WORK/push-lode"
	if LODE_REMOTE_URL=$S3URL git lode verify --remote >"$WORK/verify.out" 2>&1; then
		check verify_remote_s3 pass ""
	else
		check verify_remote_s3 fail "$(tail -n1 "$WORK/verify.out")"
	fi
	rm -rf "$WORK/push-lode" "$WORK/push-lfs"

	# clone_one TOOL REP: a fresh `git clone` (checkout included, data
	# fetched by the smudge filter); REP 0 is the untimed warm-up.
	clone_one() {
		local tool=$1 r=$2 dir=$WORK/clone-$1
		cd "$WORK"
		rm -rf "$dir"
		local cmd=(git clone -q "$WORK/remote-$tool.git" "$dir")
		if [[ $tool == lode ]]; then cmd=(env LODE_REMOTE_URL="$S3URL" "${cmd[@]}"); fi
		if ((r == 0)); then "${cmd[@]}"; else tm clone "$tool" "$r" "${cmd[@]}"; fi
		if ((r <= 1)); then
			if cmp -s "$dir/data.csv" "$DATA/v4.csv"; then check "clone_${tool}_rep$r" pass ""; else check "clone_${tool}_rep$r" fail "data.csv differs from v4"; fi
		fi
		rm -rf "$dir"
	}
	log "6. warm-up clones (untimed)"
	for tool in lode lode-local lfs; do clone_one "$tool" 0; done
	for r in $(seq 1 "$REPS"); do
		for tool in $(if ((r % 2)); then echo lode lode-local lfs; else echo lfs lode-local lode; fi); do
			log "6. git clone, $tool, rep $r/$REPS"
			clone_one "$tool" "$r"
		done
	done
	cd "$WORK"
	rm -rf remote-lode.git remote-lode-local.git remote-lfs.git
fi

# ---------------------------------------------------------------- report
rm -rf "$DATA"
"$OUT/bin/report" -raw "$RAW" -md "$OUT/results.md" -json "$OUT/results.json"
log "wrote $OUT/results.md and $OUT/results.json"

# ---------------------------------------------------------------- 7. mount
# bench/mount.sh keeps its own scratch and servers; its table is appended.
if [[ ${BENCH_MOUNT:-1} == 1 ]]; then
	log "7. mount (bench/mount.sh)"
	"$ROOT/bench/mount.sh"
	{ echo; cat "$OUT/mount.md"; } >>"$OUT/results.md"
fi

# ---------------------------------------------------------------- 8. many files
# bench/manyfiles.sh keeps its own scratch; its section is appended.
if [[ ${BENCH_MANYFILES:-1} == 1 ]]; then
	log "8. many files (bench/manyfiles.sh)"
	BENCH_OUT=$OUT BENCH_MANYFILES_APPEND=$OUT/results.md "$ROOT/bench/manyfiles.sh"
fi

# ---------------------------------------------------------------- 9. store life cycle
# bench/prune.sh keeps its own scratch; its section is appended.
if [[ ${BENCH_PRUNE:-1} == 1 ]]; then
	log "9. retrain loop and prune (bench/prune.sh)"
	BENCH_OUT=$OUT BENCH_PRUNE_APPEND=$OUT/results.md "$ROOT/bench/prune.sh"
fi
