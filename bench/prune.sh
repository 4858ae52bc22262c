#!/usr/bin/env bash
# Store life cycle: lode vs Git LFS on a retrain loop, in one run. Run by
# bench/run.sh (BENCH_PRUNE=0 skips it), or alone after `make build`:
#
#   ./bench/prune.sh                                             # 20 versions of a 256 MiB model
#   BENCH_PRUNE_VERSIONS=5 BENCH_PRUNE_MODEL=16M BENCH_PRUNE_STATUS=5 ./bench/prune.sh   # smoke run
#
# Each tool gets its own repository and bare remote (lode's embedded
# remote <bare>/lode, Git LFS's standalone-file transfer into <bare>/lfs).
# BENCH_PRUNE_VERSIONS times: write version k of a float32 checkpoint
# (`gen model`: each version changes 5% of the weights, in whole 1 MiB
# tensors) and of a text-heavy CSV that grows by 1 MiB a version (`gen
# textcsv`), commit it dated (VERSIONS-k) x 25 hours ago, push. Then:
#   - git status BENCH_PRUNE_STATUS times over one modified model, then
#     the change discarded; then BENCH_PRUNE_DISCARDS more versions each
#     looked at with git status and discarded (what a user inspecting
#     retrains does): the store's size after each;
#   - a local prune keeping the last BENCH_PRUNE_DAYS days: lode `git lode
#     prune --recent DAYS`, Git LFS `git lfs prune` with
#     lfs.fetchrecentcommitsdays=DAYS and lfs.pruneoffsetdays=0 (so that
#     it keeps the commits of the last DAYS days and the tip);
#   - a pruned version checked out again (fetched from the remote);
#   - the history squashed to its last commit, force-pushed, and `git lode
#     prune --remote` (condemn), then `--grace 0` (delete); Git LFS has no
#     remote prune (a server's own); then a fresh clone verified.
#
# Environment (defaults in brackets):
#   BENCH_PRUNE_VERSIONS [20]   model and CSV versions committed
#   BENCH_PRUNE_MODEL [256M]    model size
#   BENCH_PRUNE_CSV_MB [64]     first CSV version's size in MiB (+1 MiB a version)
#   BENCH_PRUNE_DAYS [3]        days of history the local prunes keep
#   BENCH_PRUNE_STATUS [100]    git status runs over one modified model
#   BENCH_PRUNE_DISCARDS [10]   more modified-then-discarded model versions
#   BENCH_PRUNE_APPEND          a Markdown file to append this section to
#   BENCH_OUT [bench/out]       results: prune.md, prune.tsv; scratch prune-work
#   BENCH_KEEP [0]              1: keep the scratch directory
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
VERSIONS=${BENCH_PRUNE_VERSIONS:-20}
MODEL=${BENCH_PRUNE_MODEL:-256M}
CSV_MB=${BENCH_PRUNE_CSV_MB:-64}
DAYS=${BENCH_PRUNE_DAYS:-3}
STATUS=${BENCH_PRUNE_STATUS:-100}
DISCARDS=${BENCH_PRUNE_DISCARDS:-10}
KEEP=${BENCH_KEEP:-0}
LODE=$ROOT/bin/git-lode

for v in VERSIONS CSV_MB DAYS STATUS DISCARDS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "prune: BENCH_PRUNE_$v must be a whole number (got '${!v}')" >&2; exit 2; }
done
((VERSIONS > DAYS + 1)) || { echo "prune: need BENCH_PRUNE_VERSIONS > BENCH_PRUNE_DAYS + 1" >&2; exit 2; }

die() { echo "prune: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ -x $LODE ]] || die "$LODE not found: run 'make build' first"
for t in git git-lfs; do command -v "$t" >/dev/null || die "$t is not installed: run 'make deps'"; done
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing: run 'make deps'"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/prune-work
RAW=$OUT/prune.tsv
rm -rf "$W"
mkdir -p "$W/home" "$W/data"
: >"$RAW"
cleanup() { cd /; if [[ $KEEP != 1 ]]; then rm -rf "$W"; fi; }
trap cleanup EXIT
trap 'echo "prune: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# Isolated environment (bench/lib.sh): the user's git configuration is
# never read or written.
. "$ROOT/bench/lib.sh"
bench_isolate "$W/home" "$OUT"
command -v git-lode | grep -qx "$LODE" || die "git-lode on PATH is not $LODE"
(cd "$W" && git lode install --global --skip-hooks >/dev/null && git lfs install --skip-repo >/dev/null)
mkdir -p "$OUT/bin"
(cd "$ROOT" && go build -o "$OUT/bin/gen" ./bench/gen)
GEN=$OUT/bin/gen

# tm NAME TOOL CMD...: run CMD under GNU time; record wall seconds and peak
# RSS (KiB, of CMD and the children it waited for).
tm() {
	local name=$1 tool=$2 t0 t1
	shift 2
	sync
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$W/.rss" "$@"
	t1=$(date +%s%N)
	printf 'time\t%s\t%s\t%s\t%s\n' "$name" "$tool" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')" "$(tail -n1 "$W/.rss")" >>"$RAW"
}
size() { printf 'size\t%s\t%s\t%s\n' "$1" "$2" "$(du -sb "$3" 2>/dev/null | cut -f1 || echo 0)" >>"$RAW"; }
check() { printf 'check\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }
store_of() { if [[ $1 == lode ]]; then echo "$W/$1/.git/lode"; else echo "$W/$1/.git/lfs/objects"; fi; }
remote_of() { if [[ $1 == lode ]]; then echo "$W/$1-server.git/lode"; else echo "$W/$1-server.git/lfs/objects"; fi; }
commit_at() { # commit_at N MSG: dated N times 25 hours ago (a version a day, and
	# never on the boundary of a retention counted in whole days)
	local when
	when=$(date -u -d "@$(($(date +%s) - $1 * 90000))" +%Y-%m-%dT%H:%M:%SZ)
	GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when git commit -q -m "$2"
}
model() { "$GEN" model -size "$MODEL" -version "$1" -out "$2"; }

log "prune: $VERSIONS versions of a $MODEL model and a ${CSV_MB}+ MiB CSV; keep $DAYS days"
for tool in lode lfs; do
	git init -q --bare "$W/$tool-server.git"
	git clone -q "$W/$tool-server.git" "$W/$tool" 2>/dev/null
	cd "$W/$tool"
	if [[ $tool == lode ]]; then git lode install --local >/dev/null && git lode track "*.bin" "*.csv" >/dev/null
	else git lfs install --local >/dev/null && git lfs track "*.bin" "*.csv" >/dev/null; fi
	git add .gitattributes && commit_at "$((VERSIONS + 1))" attributes
	git push -q origin main 2>/dev/null
done

for k in $(seq 1 "$VERSIONS"); do
	log "version $k/$VERSIONS: generate, then add, commit and push with each tool"
	model "$k" "$W/data/model.bin"
	"$GEN" textcsv -size "$((CSV_MB + k))M" -out "$W/data/events.csv"
	for tool in lode lfs; do
		cd "$W/$tool"
		cp "$W/data/model.bin" "$W/data/events.csv" .
		tm "add_v$k" "$tool" bash -c 'git add model.bin events.csv'
		commit_at "$((VERSIONS - k))" "retrain $k"
		tm "push_v$k" "$tool" bash -c 'git push -q origin main 2>/dev/null'
	done
done
for tool in lode lfs; do
	size after_versions_store "$tool" "$(store_of $tool)"
	size after_versions_remote "$tool" "$(remote_of $tool)"
done

log "git status $STATUS times over a modified model, then $DISCARDS versions looked at and discarded"
model "$((VERSIONS + 1))" "$W/data/model.bin"
for tool in lode lfs; do
	cd "$W/$tool"
	cp "$W/data/model.bin" model.bin
	tm status_runs "$tool" bash -c "for i in \$(seq 1 $STATUS); do git status --porcelain >/dev/null; done"
	git checkout -q -- model.bin
	size after_status_store "$tool" "$(store_of $tool)"
done
for j in $(seq 2 $((DISCARDS + 1))); do
	model "$((VERSIONS + j))" "$W/data/model.bin"
	for tool in lode lfs; do
		cd "$W/$tool"
		cp "$W/data/model.bin" model.bin
		git status --porcelain >/dev/null
		git checkout -q -- model.bin
	done
done
for tool in lode lfs; do size after_discards_store "$tool" "$(store_of $tool)"; done

log "local prune, keeping $DAYS days"
cd "$W/lode"
git lode stats --json >"$W/stats.json"
printf 'size\tstats_prunable\tlode\t%s\n' "$(sed -n 's/.*"prunable_bytes": \([0-9]*\).*/\1/p' "$W/stats.json")" >>"$RAW"
tm prune_local lode bash -c "git lode prune --recent $DAYS 2>'$W/prune-lode.err'"
sed 's/^/    /' "$W/prune-lode.err" >&2
cd "$W/lfs"
tm prune_local lfs bash -c "git -c lfs.fetchrecentcommitsdays=$DAYS -c lfs.pruneoffsetdays=0 lfs prune >'$W/prune-lfs.err' 2>&1"
sed 's/^/    /' "$W/prune-lfs.err" >&2
for tool in lode lfs; do size after_prune_store "$tool" "$(store_of $tool)"; done
cd "$W/lode"
if git lode verify >"$W/verify.out" 2>&1; then check verify_after_prune pass ""; else check verify_after_prune fail "$(tail -n3 "$W/verify.out" | tr '\n\t' '  ')"; fi
cd "$W/lfs"
if git lfs fsck >"$W/fsck.out" 2>&1; then check lfs_fsck_after_prune pass ""; else check lfs_fsck_after_prune fail "$(tail -n3 "$W/fsck.out" | tr '\n\t' '  ')"; fi

log "checkout of a pruned version (fetched from the remote)"
model 1 "$W/data/model-1.bin"
for tool in lode lfs; do
	cd "$W/$tool"
	first=$(git rev-list --reverse main | sed -n 2p)
	tm checkout_pruned "$tool" bash -c "git checkout -q $first -- model.bin"
	if cmp -s model.bin "$W/data/model-1.bin"; then check "checkout_pruned_$tool" pass ""; else check "checkout_pruned_$tool" fail "model.bin differs"; fi
	git checkout -q main -- model.bin
done

log "squash the history, force-push, prune the lode remote"
for tool in lode lfs; do
	cd "$W/$tool"
	git checkout -q --orphan squashed
	commit_at 0 "squashed"
	git push -q -f origin squashed:main 2>/dev/null
	git branch -q -f main squashed && git checkout -q main && git branch -q -D squashed
done
cd "$W/lode"
tm prune_remote_condemn lode bash -c "git lode prune --remote 2>'$W/prr1.err'"
tm prune_remote_delete lode bash -c "git lode prune --remote --grace 0 2>'$W/prr2.err'"
cat "$W/prr1.err" "$W/prr2.err" | sed 's/^/    /' >&2
for tool in lode lfs; do size after_prune_remote "$tool" "$(remote_of $tool)"; done
cd "$W"
git clone -q lode-server.git lode-clone 2>/dev/null
if (cd lode-clone && git lode verify --remote >"$W/vr.out" 2>&1) && cmp -s lode-clone/model.bin lode/model.bin; then
	check clone_after_remote_prune pass ""
else
	check clone_after_remote_prune fail "$(tail -n3 "$W/vr.out" | tr '\n\t' '  ')"
fi

# ---------------------------------------------------------------- report
sum_time() { awk -F'\t' -v p="$1" -v t="$2" '$1 == "time" && index($2, p) == 1 && $3 == t {s += $4} END {printf "%.1f", s}' "$RAW"; }
max_rss() { awk -F'\t' -v p="$1" -v t="$2" '$1 == "time" && index($2, p) == 1 && $3 == t && $5 > m {m = $5} END {printf "%.0f", m / 1024}' "$RAW"; }
one_time() { awk -F'\t' -v n="$1" -v t="$2" '$1 == "time" && $2 == n && $3 == t {printf "%.2f s (%.0f MiB RSS)", $4, $5 / 1024}' "$RAW"; }
sz() { awk -F'\t' -v n="$1" -v t="$2" '$1 == "size" && $2 == n && $3 == t {printf "%.0f MiB", $4 / 1048576}' "$RAW"; }
{
	echo "## Store life cycle: retrain loop, prune (bench/prune.sh)"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(git lfs version | cut -d' ' -f1), git-lode $(git -C "$ROOT" describe --always --dirty 2>/dev/null). $VERSIONS versions of a $MODEL float32 model (5% of the weights change each version, in whole 1 MiB tensors) and of a text CSV of $CSV_MB MiB growing 1 MiB a version; commit k dated ($VERSIONS-k) x 25 h ago, each pushed."
	echo
	echo "| | lode | Git LFS |"
	echo "| --- | --- | --- |"
	echo "| add, all versions (s) | $(sum_time add_v lode) | $(sum_time add_v lfs) |"
	echo "| push, all versions (s) | $(sum_time push_v lode) | $(sum_time push_v lfs) |"
	echo "| local store after $VERSIONS versions | $(sz after_versions_store lode) | $(sz after_versions_store lfs) |"
	echo "| remote after $VERSIONS versions | $(sz after_versions_remote lode) | $(sz after_versions_remote lfs) |"
	echo "| $STATUS x git status over a modified model | $(one_time status_runs lode) | $(one_time status_runs lfs) |"
	echo "| local store after that (change discarded) | $(sz after_status_store lode) | $(sz after_status_store lfs) |"
	echo "| local store after $DISCARDS more discarded versions | $(sz after_discards_store lode) | $(sz after_discards_store lfs) |"
	echo "| what stats said prune would free | $(sz stats_prunable lode) | |"
	echo "| prune keeping $DAYS days | $(one_time prune_local lode) | $(one_time prune_local lfs) |"
	echo "| local store after prune | $(sz after_prune_store lode) | $(sz after_prune_store lfs) |"
	echo "| checkout of pruned version 1 | $(one_time checkout_pruned lode) | $(one_time checkout_pruned lfs) |"
	echo "| prune --remote (condemn) after squashing history | $(one_time prune_remote_condemn lode) | none |"
	echo "| prune --remote --grace 0 (delete) | $(one_time prune_remote_delete lode) | none |"
	echo "| remote after remote prune | $(sz after_prune_remote lode) | $(sz after_prune_remote lfs) |"
	echo
	awk -F'\t' '$1 == "check" {printf "- check %s: %s%s\n", $2, $3, ($4 != "" ? " (" $4 ")" : "")}' "$RAW"
} >"$OUT/prune.md"
cat "$OUT/prune.md"
if [[ -n ${BENCH_PRUNE_APPEND:-} ]]; then { echo; cat "$OUT/prune.md"; } >>"$BENCH_PRUNE_APPEND"; fi
