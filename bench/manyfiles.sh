#!/usr/bin/env bash
# Many files: lode vs Git LFS on one generated folder of BENCH_FILES small
# files, each tool in its own fresh repositories, in one run, with plain git
# (no filter: the files as ordinary blobs) alongside as the floor of the
# steps git's own per-file work dominates. Run by
# bench/run.sh (BENCH_MANYFILES=0 skips it), or alone after `make build`:
#
#   ./bench/manyfiles.sh                                   # 100,000 files of 2-24 KiB
#   BENCH_FILES=2000 BENCH_REPS=1 ./bench/manyfiles.sh     # smoke run, about two minutes
#   BENCH_FILES=1000000 BENCH_FILE_SIZE=tiny ./bench/manyfiles.sh   # 1,000,000 files of 16-256 bytes
#
# Environment (defaults in brackets):
#   BENCH_FILES [100000]       number of files (half CSV-like text, half random bytes)
#   BENCH_FILE_SIZE [small]    small: 2-24 KiB a file; tiny: 16-256 bytes
#   BENCH_REPS [3]             repetitions of the quick steps (status, one-file
#                              commit, no-op push and pull, 1% checkout, mount ready)
#   BENCH_MANYFILES_REPS [1]   repetitions of the slow steps (add of the whole
#                              folder, push, clone, verify, reading every file)
#   BENCH_MANYFILES_STEPS      all: every step; core: add, status, push, clone and
#                              mount ready. Default: all for small, core for tiny.
#   BENCH_LFS [1]              0: no Git LFS
#   BENCH_GIT [1]              0: no "git alone" (plain git, no filter; the
#                              floor of add, status, commit, push, clone,
#                              checkout and git pull)
#   BENCH_LFS_TIMEOUT          seconds a Git LFS step may take before it is
#                              stopped and LFS is left out of the rest of the run
#                              (0: no limit). Default: 0 for small, 3600 for tiny.
#   BENCH_MANYFILES_NAME       output name [manyfiles, or manyfiles-tiny]: writes
#                              $BENCH_OUT/NAME.md, NAME.json and NAME.tsv
#   BENCH_MANYFILES_BASE       results (.json) of a run to compare with, step by
#                              step (time ratio and cost per file); default for a
#                              run not named manyfiles: $BENCH_OUT/manyfiles.json
#                              if it exists (set and empty: no comparison)
#   BENCH_MANYFILES_APPEND     a Markdown file to append this section to (run.sh
#                              passes results.md)
#   BENCH_DROP_CACHES [0]      1: drop the page cache before every timed step (root)
#   BENCH_OUT [bench/out]      where results go; scratch in $BENCH_OUT/NAME-work
#   BENCH_KEEP [0]             1: keep the scratch directory
#   BENCH_SEED [1]             seed of the generated files
#   BENCH_NOFILE               set the open-file limit (ulimit -n) to this first;
#                              default: leave it. The run records the limit and
#                              warns when it is below BENCH_FILES + 1000.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
FILES=${BENCH_FILES:-100000}
FSIZE=${BENCH_FILE_SIZE:-small}
REPS=${BENCH_REPS:-3}
MREPS=${BENCH_MANYFILES_REPS:-1}
WITH_LFS=${BENCH_LFS:-1}
WITH_GIT=${BENCH_GIT:-1}
DROP=${BENCH_DROP_CACHES:-0}
KEEP=${BENCH_KEEP:-0}
SEED=${BENCH_SEED:-1}
case $FSIZE in
small) def_steps=all def_name=manyfiles def_tmo=0 ;;
tiny) def_steps=core def_name=manyfiles-tiny def_tmo=3600 ;;
*) echo "manyfiles: BENCH_FILE_SIZE must be small or tiny (got '$FSIZE')" >&2; exit 2 ;;
esac
STEPS=${BENCH_MANYFILES_STEPS:-$def_steps}
NAME=${BENCH_MANYFILES_NAME:-$def_name}
LFS_TIMEOUT=${BENCH_LFS_TIMEOUT:-$def_tmo}
LODE=$ROOT/bin/git-lode

for v in FILES REPS MREPS SEED LFS_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "manyfiles: $v must be a whole number (got '${!v}')" >&2; exit 2; }
done
((FILES >= 200 && REPS > 0 && MREPS > 0)) || { echo "manyfiles: need BENCH_FILES >= 200 and the repetitions > 0" >&2; exit 2; }
[[ $STEPS == all || $STEPS == core ]] || { echo "manyfiles: BENCH_MANYFILES_STEPS must be all or core" >&2; exit 2; }
[[ $WITH_LFS == 0 || $WITH_LFS == 1 ]] || { echo "manyfiles: BENCH_LFS must be 0 or 1" >&2; exit 2; }
[[ $WITH_GIT == 0 || $WITH_GIT == 1 ]] || { echo "manyfiles: BENCH_GIT must be 0 or 1" >&2; exit 2; }
[[ $NAME =~ ^[A-Za-z0-9._-]+$ ]] || { echo "manyfiles: bad BENCH_MANYFILES_NAME" >&2; exit 2; }

die() { echo "manyfiles: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ -x $LODE ]] || die "$LODE not found: run 'make build' first"
for t in git git-lfs fusermount3 timeout; do
	command -v "$t" >/dev/null || die "$t is not installed: run 'make deps'"
done
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing: run 'make deps'"
if [[ $DROP == 1 ]] && ! [[ -w /proc/sys/vm/drop_caches ]]; then
	die "BENCH_DROP_CACHES=1 needs root (cannot write /proc/sys/vm/drop_caches)"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/$NAME-work
RAW=$OUT/$NAME.tsv
if [[ -n ${BENCH_MANYFILES_BASE+set} ]]; then
	BASE=$BENCH_MANYFILES_BASE # set and empty: compare with nothing
elif [[ $NAME != manyfiles && -f $OUT/manyfiles.json ]]; then
	BASE=$OUT/manyfiles.json
else
	BASE=
fi
[[ -z $BASE || -f $BASE ]] || die "BENCH_MANYFILES_BASE: $BASE does not exist"

# Disk (allocated, not apparent, size) and inodes per file, measured on the
# 2,000-file smoke runs (ext4, 4 KiB blocks) with some margin. Per tool: the
# working repository's work tree and git's loose pointer blobs; lode's local
# store, its <bare>/lode and the clone's store (lode has made one pack and
# one index per file: two files each); Git LFS's objects (one file each;
# those of the bare repository and the clone are hard links to them); the
# clone's work tree. Plain git: the work tree, one loose object per file,
# the bare repository's pack (the clone hard-links it) and the clone's work
# tree. With the core steps the clone is deleted after its check. The run
# records what it used (peak_disk_kib, peak_inodes).
if [[ $STEPS == all ]]; then
	case $FSIZE in
	small) lode_kib=80 lfs_kib=70 git_kib=56 lode_ino=8 lfs_ino=8 git_ino=4 ;; # a file: 13 KiB on average
	tiny) lode_kib=32 lfs_kib=32 git_kib=20 lode_ino=8 lfs_ino=8 git_ino=5 ;;  # a file: 136 bytes, one 4 KiB block
	esac
else
	case $FSIZE in
	small) lode_kib=64 lfs_kib=56 git_kib=56 lode_ino=5 lfs_ino=7 git_ino=4 ;;
	tiny) lode_kib=30 lfs_kib=30 git_kib=20 lode_ino=7 lfs_ino=7 git_ino=5 ;;
	esac
fi
per_kib=$lode_kib per_inodes=$lode_ino
if [[ $WITH_LFS == 1 ]]; then per_kib=$((per_kib + lfs_kib)) per_inodes=$((per_inodes + lfs_ino)); fi
if [[ $WITH_GIT == 1 ]]; then per_kib=$((per_kib + git_kib)) per_inodes=$((per_inodes + git_ino)); fi
need_mb=$((FILES * per_kib / 1024 + 2048))
need_inodes=$((FILES * per_inodes + 100000))
avail_mb=$(df -Pm "$OUT" | awk 'NR==2 {print $4}')
avail_inodes=$(df -Pi "$OUT" | awk 'NR==2 {print $4}')
log "many files: $FILES $FSIZE files; needs about ${need_mb} MiB and ${need_inodes} inodes free under $OUT (have ${avail_mb} MiB, ${avail_inodes} inodes)"
((avail_mb > need_mb)) || die "need about ${need_mb} MiB free under $OUT, have ${avail_mb} MiB"
[[ $avail_inodes == - ]] || ((avail_inodes > need_inodes)) || die "need about ${need_inodes} free inodes under $OUT, have ${avail_inodes}"

# lode's filter process has kept one file open per pack, and made one pack
# per file: with fewer open files allowed than files, its add and clone fail
# with "too many open files". The bench does not raise the limit unless told.
if [[ -n ${BENCH_NOFILE:-} ]]; then
	ulimit -n "$BENCH_NOFILE" 2>/dev/null || die "cannot set the open-file limit to $BENCH_NOFILE (hard limit $(ulimit -Hn))"
fi
NOFILE="$(ulimit -Sn)/$(ulimit -Hn)"
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < FILES + 1000)); then
	log "warning: the open-file limit ($NOFILE soft/hard) is below BENCH_FILES + 1000; a tool that keeps a file open per stored object fails"
fi

rm -rf "$W"
mkdir -p "$W/home" "$W/logs" "$OUT/bin"
: >"$RAW"

cleanup() {
	cd /
	for m in $(awk -v w="$W/" 'index($2, w) == 1 {print $2}' /proc/self/mounts 2>/dev/null); do
		fusermount3 -uz "$m" 2>/dev/null || true
	done
	if [[ $KEEP != 1 ]]; then rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'echo "manyfiles: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# --- isolated environment (bench/lib.sh), with fixed commit dates: the
# user's git configuration is never read or written, and git never finds
# lode's own repository.
. "$ROOT/bench/lib.sh"
bench_isolate "$W/home" "$OUT"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
git config --global pull.rebase false
command -v git-lode | grep -qx "$LODE" || die "git-lode on PATH is not $LODE"
# Clones smudge through the global filters, as on a user's machine (run.sh
# does the same for its clones); each working repository also has its own.
(cd "$W" && git lode install --global --skip-hooks >/dev/null && git lfs install --skip-repo >/dev/null)

log "building the generator, the sampler and the report tool"
(cd "$ROOT" && go build -o "$OUT/bin/gen" ./bench/gen && go build -o "$OUT/bin/procwatch" ./bench/procwatch && go build -o "$OUT/bin/report" ./bench/report)
GEN=$OUT/bin/gen PROCWATCH=$OUT/bin/procwatch

meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
size() { printf 'size\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
check() { printf 'check\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }
count() { printf 'count\t%s\t%s\n' "$1" "$2" >>"$RAW"; }
du_b() { if [[ -e $1 ]]; then du -sb "$1" | cut -f1; else echo 0; fi; }

meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta nproc "$(nproc)"
meta ram "$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta fs "$(df -PT "$OUT" | awk 'NR==2 {print $2}')"
meta git "$(git --version | awk '{print $3}')"
meta git_lfs "$(git lfs version | awk '{print $1}' | cut -d/ -f2)"
meta lode "$("$LODE" version 2>/dev/null | sed 's/^git-lode //')"
meta lode_commit "$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo unknown)"
meta files "$FILES"
meta file_size "$FSIZE"
meta steps "$STEPS"
meta reps "$REPS"
meta manyfiles_reps "$MREPS"
meta lfs "$WITH_LFS"
meta git_alone "$WITH_GIT"
meta lfs_timeout "$LFS_TIMEOUT"
meta name "$NAME"
meta seed "$SEED"
meta nofile "$NOFILE"
[[ -n $BASE ]] && meta base "$BASE"
meta cache "$([[ $DROP == 1 ]] && echo "dropped before each timed step" || echo "warm, sync before each timed step")"

# bg_busy: percentage of all CPUs busy over half a second while the bench
# itself is idle (load from other processes), as in run.sh.
bg_busy() {
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)}'
}

# Tools still in the run (git: plain git, no filter, "git alone" in the
# report): a tool whose step failed (or, for Git LFS, ran over
# BENCH_LFS_TIMEOUT) is left out of the later steps; the report says so.
ALIVE=" lode "
[[ $WITH_LFS == 1 ]] && ALIVE+="lfs "
[[ $WITH_GIT == 1 ]] && ALIVE+="git "
alive() { [[ $ALIVE == *" $1 "* ]]; }
drop_tool() { ALIVE=${ALIVE/ $1 / }; }

# next_order: sets ORDER to the live tools, the order lode, lfs, git
# rotated by one from step to step (a step counter, not the repetition:
# most slow steps run once), so that each goes first, second and last
# equally often.
STEPN=0
ORDER=
next_order() {
	local all=(lode lfs git) i t
	ORDER=
	for i in 0 1 2; do
		t=${all[$(((STEPN + i) % 3))]}
		if alive "$t"; then ORDER+="$t "; fi
	done
	STEPN=$((STEPN + 1))
}

# tm MEASURE TOOL REP CMD...: run CMD under GNU time, its output in
# $W/logs/MEASURE-TOOL-REP.log (LOG); record wall seconds, peak RSS (KiB, the
# largest process of the tree GNU time waited for: git or its filter), CPU
# seconds (user+system of the tree) and the load measured just before. With
# WATCH=1 the command runs under bench/procwatch too (outside GNU time),
# which samples the filter process's open files and the tree's memory
# every 100 ms into $W/.watch. A failure (or an LFS step over the time
# limit) is recorded as a failed check, the tool leaves the run, and tm
# returns 1.
WATCH=0
LOG=
tm() {
	local m=$1 tool=$2 rep=$3 t0 t1 bg rc=0 rss usr sys
	shift 3
	LOG=$W/logs/$m-$tool-$rep.log
	local pre=()
	if [[ $WATCH == 1 ]]; then pre=("$PROCWATCH" -o "$W/.watch" --); fi
	if [[ $tool == lfs ]] && ((LFS_TIMEOUT > 0)); then pre=(timeout -k 10 "$LFS_TIMEOUT" "${pre[@]}"); fi
	rm -f "$W/.watch"
	sync
	if [[ $DROP == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches; fi
	bg=$(bg_busy)
	t0=$(date +%s%N)
	"${pre[@]}" /usr/bin/time -f '%M %U %S' -o "$W/.rss" "$@" >"$LOG" 2>&1 </dev/null || rc=$?
	t1=$(date +%s%N)
	if ((rc != 0)); then
		local why
		if [[ $tool == lfs ]] && ((LFS_TIMEOUT > 0)) && ((rc == 124 || rc == 137)); then
			why="stopped after BENCH_LFS_TIMEOUT=${LFS_TIMEOUT} s"
		else
			why="exit status $rc: $(grep -v '^Command exited' "$LOG" | tail -n 3 | tr '\n\t' '  ' | cut -c1-300)"
		fi
		log "  $tool: $m FAILED ($why); $tool is left out of the rest of the run"
		check "failed_${m}_$tool" fail "$why (log: $OUT/$NAME-logs/${LOG##*/})"
		drop_tool "$tool"
		return 1
	fi
	read -r rss usr sys < <(tail -n1 "$W/.rss")
	LAST=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
	printf 'time\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$tool" "$rep" "$LAST" "$rss" \
		"$(awk -v u="$usr" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')" "$bg" >>"$RAW"
	log "  $tool: $m rep $rep: ${LAST} s"
	if [[ $WATCH == 1 && -f $W/.watch ]]; then
		local k v
		while read -r k v; do count "${m}_${k}_$tool" "$v"; done <"$W/.watch"
	fi
}

# Refresh the index, untimed: a file written in the same second as the index
# is "racily clean" and would make the next command run the clean filter on
# it. A user's next command comes later.
settle() { sleep 1.1; git update-index -q --refresh >/dev/null 2>&1 || true; }

# fname I: the path gen gives file I.
n=$(((FILES - 1) / 100))
DW=$((${#n} > 3 ? ${#n} : 3)) # folder digits: those of (FILES-1)/100, at least 3
n=$((FILES - 1))
FW=$((${#n} > 4 ? ${#n} : 4)) # file digits: those of FILES-1, at least 4
fname() {
	local ext=bin
	(($1 % 2)) || ext=csv
	printf 'data/%0*d/%0*d.%s' "$DW" $(($1 / 100)) "$FW" "$1" "$ext"
}

# change_same_size FILE: rewrites 16 bytes in the middle of FILE, in place
# (same size, same inode, new mtime): git must run the clean filter to see
# that it changed (a change of size is seen from the stat data alone).
change_same_size() {
	local n
	n=$(stat -c %s "$1")
	printf 'CHANGED-%08d' "$RANDOM" | dd of="$1" bs=1 seek=$((n / 2)) conv=notrunc status=none
}

# new_repo TOOL DIR: a fresh repository with TOOL's filter for *.csv and
# *.bin, the attributes committed, a bare repository DIR-bare.git as origin,
# and the generated files in DIR/data (not added). For plain git (no
# filter, no attributes) the first commit is empty, so that every tool's
# history has the same commits.
new_repo() {
	local tool=$1 dir=$2 n=${3:-$FILES}
	cd "$W"
	rm -rf "$dir" "$dir-bare.git"
	git init -q "$dir"
	cd "$dir"
	case $tool in
	lode) git lode install --local >/dev/null && git lode track "*.csv" "*.bin" >/dev/null ;;
	lfs) git lfs install --local >/dev/null && git lfs track "*.csv" "*.bin" >/dev/null ;;
	esac
	if [[ $tool == git ]]; then
		git commit -q --allow-empty -m "no attributes"
	else
		git add .gitattributes
		git commit -q -m attributes
	fi
	git init -q --bare "$dir-bare.git"
	git remote add origin "$dir-bare.git"
	"$GEN" files -n "$n" -dir data -seed "$SEED" -size "$FSIZE" >"$W/gen.out"
}

# disk_mark: the scratch folder's allocated KiB and inodes, kept if the
# largest so far (after each clone, and at the end).
PEAK_KIB=0 PEAK_INODES=0
disk_mark() {
	local k i
	k=$(du -s --block-size=1K "$W" | cut -f1)
	i=$(du -s --inodes "$W" | cut -f1)
	((k > PEAK_KIB)) && PEAK_KIB=$k
	((i > PEAK_INODES)) && PEAK_INODES=$i
	return 0
}

# Where each tool keeps the files' content: lode's and Git LFS's stores;
# for plain git, its object database.
store_of() { case $1 in lode) echo .git/lode ;; lfs) echo .git/lfs/objects ;; git) echo .git/objects ;; esac; }
bare_store_of() { case $1 in lode) echo lode ;; lfs) echo lfs/objects ;; git) echo objects ;; esac; }
packs_in() { if [[ -d $1 ]]; then find "$1" -maxdepth 1 -name '*.pack' | wc -l; else echo 0; fi; }

# lode's summary line of a push or fetch, from the log of the last step.
XFER_RE='(pushed|fetched) ([0-9]+) file\(s\) (to|from) .*: ([0-9]+) chunk\(s\), ([0-9.]+) ([KMGTPE]?i?B)( in ([0-9]+) pack\(s\))?, ([0-9]+) request\(s\)'
lode_summary() {
	local name=$1 line
	line=$(grep -E '^lode: (pushed|fetched|nothing to)' "$LOG" | tail -n1 || true)
	if [[ $line =~ $XFER_RE ]]; then
		count "${name}_files_lode" "${BASH_REMATCH[2]}"
		count "${name}_chunks_lode" "${BASH_REMATCH[4]}"
		count "${name}_packs_lode" "${BASH_REMATCH[8]:-0}"
		count "${name}_requests_lode" "${BASH_REMATCH[9]}"
		meta "${name}_summary_lode" "$line"
	elif [[ -n $line ]]; then
		meta "${name}_summary_lode" "$line"
	else
		meta "${name}_summary_lode" "(no summary line)"
	fi
}

meta layout "$(fname 0), $(fname 1), ... $(fname $((FILES - 1)))"
START=$(date +%s)

# ---------------------------------------------------------------- warm-up
# Untimed, in throwaway repositories: the binaries and git's first touches
# of memory, for every tool (200 files).
log "warm-up (untimed): 200 files added, committed, pushed and cloned per tool"
for tool in $ALIVE; do
	new_repo "$tool" "$W/warm-$tool" 200
	git add data && git commit -q -m warm
	git push -q origin main >/dev/null 2>&1
	git clone -q "$W/warm-$tool-bare.git" "$W/warm-$tool-clone" >/dev/null 2>&1
	cd "$W" && rm -rf "$W/warm-$tool" "$W/warm-$tool-bare.git" "$W/warm-$tool-clone"
done

# ---------------------------------------------------------------- 1. add + commit
# Fresh repositories for every repetition; the last ones are kept for the
# following steps.
for r in $(seq 1 "$MREPS"); do
	next_order
	for tool in $ORDER; do
		log "1. git add + commit of $FILES files, $tool, rep $r/$MREPS"
		new_repo "$tool" "$W/$tool"
		if ((r == 1)); then meta generated "$(cat "$W/gen.out")"; fi
		WATCH=1
		tm add "$tool" "$r" bash -c 'git add data && git commit -q -m "all files"' || { WATCH=0; continue; }
		WATCH=0
		n=$(git ls-tree -r --name-only HEAD | wc -l)
		want=$((FILES + 1)) # and .gitattributes
		[[ $tool == git ]] && want=$FILES
		if ((n == want)); then check "add_files_$tool" pass ""; else check "add_files_$tool" fail "HEAD has $n files, want $want"; fi
		if [[ $tool == git ]] && ((r == 1)); then
			# No filter applies: the files are ordinary blobs.
			a=$(git check-attr filter -- "$(fname 0)" "$(fname 1)" | grep -vc ': filter: unspecified$' || true)
			b=$(git cat-file -s "HEAD:$(fname 1)")
			if ((a == 0)) && [[ $b == $(stat -c %s "$(fname 1)") ]]; then check git_no_filter pass ""; else check git_no_filter fail "a filter applies ($a) or the blob is not the file ($b bytes)"; fi
		fi
		size "store_after_add_$tool" "$(du_b "$(store_of "$tool")")"
		[[ $tool == lode ]] && count "packs_after_add_lode" "$(packs_in .git/lode/packs)"
	done
done
for tool in lode lfs git; do
	if [[ -d $W/$tool/data ]]; then
		size data_bytes "$(find "$W/$tool/data" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')"
		break
	fi
done

# ---------------------------------------------------------------- 2. status
for tool in $ALIVE; do (cd "$W/$tool" && settle); done
for r in $(seq 1 "$REPS"); do
	next_order
	for tool in $ORDER; do
		cd "$W/$tool"
		log "2. git status, clean, $tool, rep $r/$REPS"
		tm status_clean "$tool" "$r" git status || continue
	done
done
TOUCHED=$(fname 0)
for r in $(seq 1 "$REPS"); do
	next_order
	for tool in $ORDER; do
		cd "$W/$tool"
		touch "$TOUCHED"
		log "2. git status after touching $TOUCHED, $tool, rep $r/$REPS"
		tm status_touched "$tool" "$r" git status || continue
		if ((r == 1)); then
			if [[ -n $(git status --porcelain) ]]; then check "status_touched_clean_$tool" fail "git status shows changes after a touch"; else check "status_touched_clean_$tool" pass ""; fi
		fi
	done
done
for tool in $ALIVE; do (cd "$W/$tool" && settle); done
CHANGED=$(fname 2)
for tool in $ALIVE; do (cd "$W/$tool" && change_same_size "$CHANGED"); done
for r in $(seq 1 "$REPS"); do
	next_order
	for tool in $ORDER; do
		cd "$W/$tool"
		log "2. git status after changing $CHANGED (same size), $tool, rep $r/$REPS"
		tm status_changed "$tool" "$r" git status || continue
		if ((r == 1)); then
			if git status --porcelain | grep -F "$CHANGED" >/dev/null; then check "status_changed_seen_$tool" pass ""; else check "status_changed_seen_$tool" fail "git status does not show $CHANGED as modified"; fi
		fi
	done
done

# With the core steps only, the changed file goes back (untimed) so that
# the commit pushed and cloned is the one of step 1.
if [[ $STEPS == core ]]; then
	for tool in $ALIVE; do (cd "$W/$tool" && git checkout -q -- "$CHANGED" && settle); done
fi

# ---------------------------------------------------------------- 3. one changed file
# `git add data` (the whole folder, as `git add .` would) + `git commit`,
# with one file changed; the first repetition commits the file changed in 2.
if [[ $STEPS == all ]]; then
	for r in $(seq 1 "$REPS"); do
		next_order
		for tool in $ORDER; do
			cd "$W/$tool"
			if ((r > 1)); then change_same_size "$(fname $((2 * r + 2)))"; fi
			log "3. git add + commit of one changed file, $tool, rep $r/$REPS"
			tm commit_one "$tool" "$r" bash -c "git add data && git commit -q -m 'one file, $r'" || continue
			if [[ -n $(git status --porcelain) ]]; then check "commit_one_clean_$tool" fail "work tree not clean after the commit"; fi
		done
	done
	# The second commit of 6: about 1% of the files rewritten (gen -change 1).
	next_order
	for tool in $ORDER; do
		cd "$W/$tool"
		settle
		"$GEN" files -n "$FILES" -dir data -seed "$SEED" -size "$FSIZE" -change 1 >"$W/gen1.out"
		count changed_files "$(sed -n 's/^files=\([0-9]*\).*/\1/p' "$W/gen1.out")"
		log "3. git add + commit of 1% changed files, $tool"
		tm commit_1pct "$tool" 1 bash -c "git add data && git commit -q -m 'one percent'" || continue
		settle
	done
fi

# ---------------------------------------------------------------- 4. push
# To the bare repository by path: lode's data to <bare>/lode (its embedded
# default remote), Git LFS's to <bare>/lfs/objects (its standalone file
# transfer), plain git's as git objects only. A fresh bare repository for every repetition, at a new path
# (lode caches what a remote holds by its location) and with the
# remote-tracking branch of the previous one deleted (a push sends the
# history the remote does not have).
declare -A BARE=([lode]=$W/lode-bare.git [lfs]=$W/lfs-bare.git [git]=$W/git-bare.git)
for r in $(seq 1 "$MREPS"); do
	next_order
	for tool in $ORDER; do
		cd "$W/$tool"
		if ((r > 1)); then
			rm -rf "${BARE[$tool]}"
			BARE[$tool]=$W/$tool-bare-$r.git
			git init -q --bare "${BARE[$tool]}"
			git remote set-url origin "${BARE[$tool]}"
			git update-ref -d refs/remotes/origin/main 2>/dev/null || true
		fi
		log "4. git push of every commit, $tool, rep $r/$MREPS"
		tm push "$tool" "$r" git push -q origin main || continue
		if [[ $tool == lode ]]; then lode_summary "push_rep$r"; fi
	done
done
for tool in $ALIVE; do
	size "bare_store_$tool" "$(du_b "${BARE[$tool]}/$(bare_store_of "$tool")")"
	size "bare_git_$tool" "$(du_b "${BARE[$tool]}")"
done
for r in $(seq 1 "$REPS"); do
	next_order
	for tool in $ORDER; do
		cd "$W/$tool"
		log "4. no-op git push, $tool, rep $r/$REPS"
		tm push_noop "$tool" "$r" git push -q origin main || continue
		if [[ $tool == lode && $r == 1 ]]; then lode_summary push_noop; fi
	done
done

# ---------------------------------------------------------------- 5. clone
for r in $(seq 1 "$MREPS"); do
	next_order
	for tool in $ORDER; do
		cd "$W"
		rm -rf "$W/$tool-clone"
		log "5. git clone, $tool, rep $r/$MREPS"
		WATCH=1
		tm clone "$tool" "$r" git clone -q "${BARE[$tool]}" "$W/$tool-clone" || { WATCH=0; continue; }
		WATCH=0
		if [[ $tool == lode ]]; then
			count "clone_stderr_lines_rep${r}_lode" "$(grep -vc '^Cloning into' "$LOG" || true)"
			lode_summary "clone_rep$r"
		fi
		if ((r == 1)); then
			if diff -rq "$W/$tool/data" "$W/$tool-clone/data" >"$W/diff.out" 2>&1; then
				check "clone_content_$tool" pass ""
			else
				check "clone_content_$tool" fail "$(wc -l <"$W/diff.out") difference(s): $(head -n1 "$W/diff.out")"
			fi
			if [[ $tool == lfs ]]; then
				obj=$(find "$W/lfs-clone/.git/lfs/objects" -type f -print -quit)
				if [[ -n $obj && $(stat -c %h "$obj") -gt 1 ]]; then meta lfs_transfer "hard-links them (same file system): its push and clone copy no object"; else meta lfs_transfer "copies them"; fi
			fi
		fi
		disk_mark
		if [[ $STEPS == core ]]; then
			size "clone_store_$tool" "$(du_b "$W/$tool-clone/$(store_of "$tool")")"
			[[ $tool == lode ]] && count clone_packs_lode "$(packs_in "$W/lode-clone/.git/lode/packs")"
			rm -rf "$W/$tool-clone"
		fi
	done
done

# ---------------------------------------------------------------- 6. checkout
# In the working repository (all data local): to the commit before the 1%
# change and back.
if [[ $STEPS == all ]]; then
	for r in $(seq 1 "$REPS"); do
		next_order
		for tool in $ORDER; do
			cd "$W/$tool"
			log "6. git checkout HEAD~1 (1% of the files differ) and back, $tool, rep $r/$REPS"
			tm checkout_prev "$tool" "$r" git checkout -q HEAD~1 || continue
			settle
			if ((r == 1)); then
				if [[ -z $(git status --porcelain) ]]; then check "checkout_prev_$tool" pass ""; else check "checkout_prev_$tool" fail "work tree not clean after checkout HEAD~1"; fi
			fi
			tm checkout_back "$tool" "$r" git checkout -q main || continue
			settle
			if ((r == 1)); then
				if [[ -z $(git status --porcelain) ]]; then check "checkout_back_$tool" pass ""; else check "checkout_back_$tool" fail "work tree not clean after checkout main"; fi
			fi
		done
	done
fi

# ---------------------------------------------------------------- 7. no-op pull
# In the clone: `git pull`, then `git lode pull` / `git lfs pull` (plain
# git: `git pull` only).
if [[ $STEPS == all ]]; then
	for r in $(seq 1 "$REPS"); do
		next_order
		for tool in $ORDER; do
			cd "$W/$tool-clone"
			if [[ $tool == git ]]; then
				log "7. no-op git pull, git alone, rep $r/$REPS"
				tm pull_git git "$r" git pull -q || continue
				continue
			fi
			log "7. no-op git pull + git $tool pull, $tool, rep $r/$REPS"
			tm pull_git "$tool" "$r" git pull -q || continue
			tm pull_tool "$tool" "$r" git "$tool" pull || continue
			if [[ $tool == lode && $r == 1 ]]; then lode_summary pull; fi
		done
	done
fi

# ---------------------------------------------------------------- 8. verify
# In the working repository: `git lode verify` (every pack of the local
# store re-hashed, and every pointer in the history of HEAD reassembled and
# hashed) vs `git lfs fsck` (the objects of HEAD and the index re-hashed, and
# the pointers checked); for plain git, `git fsck` (every object re-hashed
# and parsed, and the connectivity of everything reachable): a reference,
# not a floor of lode's verify.
declare -A VERIFY=([lode]="lode verify" [lfs]="lfs fsck" [git]=fsck)
if [[ $STEPS == all ]]; then
	for r in $(seq 1 "$MREPS"); do
		next_order
		for tool in $ORDER; do
			cd "$W/$tool"
			log "8. git ${VERIFY[$tool]}, $tool, rep $r/$MREPS"
			# shellcheck disable=SC2086 # the subcommand's words
			tm verify "$tool" "$r" git ${VERIFY[$tool]} || continue
			if ((r == 1)); then check "verify_$tool" pass "$(tail -n1 "$LOG" | cut -c1-200)"; fi
		done
	done
fi

# ---------------------------------------------------------------- 9. mount (lode)
if alive lode; then
	cd "$W/lode"
	mpid=
	for r in $(seq 1 "$REPS"); do
		M=$W/mnt-$r
		mkdir -p "$M"
		log "9. git lode mount HEAD, ready, rep $r/$REPS"
		tm mount_ready lode "$r" git lode mount HEAD "$M" || break
		mpid=$(sed -n 's/.*(process \([0-9]*\),.*/\1/p' "$LOG" | head -n1)
		if [[ $STEPS == all ]]; then
			tm mount_find lode "$r" bash -c "find '$M' -type f | wc -l" || break
			n=$(tr -d ' ' <"$LOG" | grep -E '^[0-9]+$' | tail -n1)
			if ((r == 1)); then
				if [[ $n == $((FILES + 1)) ]]; then check mount_find_count pass ""; else check mount_find_count fail "find counted $n files, want $((FILES + 1))"; fi
			fi
			if ((r <= MREPS)); then
				log "9. reading every file through the mount, rep $r/$MREPS"
				tm mount_cat lode "$r" bash -c "cd '$M' && find data -type f -print0 | xargs -0 cat >/dev/null" || break
				tm mount_cat_again lode "$r" bash -c "cd '$M' && find data -type f -print0 | xargs -0 cat >/dev/null" || break
				tm worktree_cat lode "$r" bash -c "cd '$W/lode' && find data -type f -print0 | xargs -0 cat >/dev/null" || break
				if ((r == 1)); then
					if diff -rq "$W/lode/data" "$M/data" >"$W/diff.out" 2>&1; then check mount_content pass ""; else check mount_content fail "$(wc -l <"$W/diff.out") difference(s): $(head -n1 "$W/diff.out")"; fi
				fi
			fi
		fi
		if [[ -n $mpid && -r /proc/$mpid/status ]]; then count "mount_hwm_kib_rep$r" "$(awk '/VmHWM/ {print $2}' "/proc/$mpid/status")"; fi
		git lode umount "$M" >/dev/null 2>&1 || fusermount3 -uz "$M" 2>/dev/null || true
	done
fi

# ---------------------------------------------------------------- 10. what is left
for tool in lode lfs git; do
	[[ -d $W/$tool ]] || continue
	size "store_$tool" "$(du_b "$W/$tool/$(store_of "$tool")")"
	size "git_objects_$tool" "$(du_b "$W/$tool/.git/objects")"
	if [[ -d $W/$tool-clone ]]; then size "clone_store_$tool" "$(du_b "$W/$tool-clone/$(store_of "$tool")")"; fi
done
count packs_lode "$(packs_in "$W/lode/.git/lode/packs")"
if [[ -d $W/lode-clone ]]; then count clone_packs_lode "$(packs_in "$W/lode-clone/.git/lode/packs")"; fi
count bare_packs_lode "$(packs_in "${BARE[lode]}/lode/packs")"
size work_bytes "$(du_b "$W")"
disk_mark
count peak_disk_kib "$PEAK_KIB"
count peak_inodes "$PEAK_INODES"
count elapsed_s $(($(date +%s) - START))
# The commands' output (small), kept next to the results: the failure
# messages the report quotes point here.
rm -rf "$OUT/$NAME-logs"
cp -r "$W/logs" "$OUT/$NAME-logs"

"$OUT/bin/report" -manyfiles -raw "$RAW" -md "$OUT/$NAME.md" -json "$OUT/$NAME.json" ${BASE:+-base "$BASE"}
log "wrote $OUT/$NAME.md and $OUT/$NAME.json ($(($(date +%s) - START)) s)"
if [[ -n ${BENCH_MANYFILES_APPEND:-} ]]; then { echo; cat "$OUT/$NAME.md"; } >>"$BENCH_MANYFILES_APPEND"; fi
