#!/usr/bin/env bash
# Mount benchmark (issue "mount any revision"): run by bench/run.sh, or
# alone after `make build`:
#
#   ./bench/mount.sh             # BENCH_SIZE_MB (1024) CSV; writes bench/out/mount.md and mount.json
#
# Measures, in one run:
#   1. first sequential read through `git lode mount` with the chunks in the
#      local store, and the same file through `restic mount` (FUSE);
#   2. a repeated read through the mount vs `cat` of the checked-out file;
#   3. random 4 KiB reads per second through a fresh mount;
#   4. time to the first byte and bytes fetched for a 1 MiB read in the
#      middle of a remote-only file (S3 server on 127.0.0.1), and the
#      number of requests;
#   5. time from `git lode mount` to ready on a 100,000-file tree;
#   6. peak RSS of the mount process.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/mount-work
rm -rf "$W"
mkdir -p "$W"

GOPATH=$(go env GOPATH) GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export GOPATH GOMODCACHE GOCACHE
export HOME=$W/home XDG_CONFIG_HOME=$W/home/.config XDG_CACHE_HOME=$W/home/.cache
export GIT_CONFIG_GLOBAL=$HOME/.gitconfig GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
# Git must never find the lode checkout around the scratch folder.
export GIT_CEILING_DIRECTORIES=$OUT
export PATH=$ROOT/bin:$PATH RESTIC_PASSWORD=lode-bench LODE_NO_PROGRESS=1
unset LODE_REMOTE_URL LODE_STORE_DIR GIT_LODE_SKIP_SMUDGE
mkdir -p "$HOME"
git config --global user.name bench
git config --global user.email bench@lode.invalid
git config --global init.defaultBranch main
git lode install --global --skip-hooks >/dev/null

GEN=$OUT/bin/gen RANDREAD=$OUT/bin/randread
mkdir -p "$OUT/bin"
(cd "$ROOT" && go build -o "$GEN" ./bench/gen && go build -o "$RANDREAD" ./bench/randread)

TSV=$OUT/mount.tsv
: >"$TSV"
rec() { printf '%s\t%s\n' "$1" "$2" >>"$TSV"; echo "  $1 = $2" >&2; }
log() { echo "[$(date +%T)] $*" >&2; }
cleanup() {
	for m in $(awk -v w="$W" '$2 ~ "^"w {print $2}' /proc/self/mounts); do git lode umount --lazy "$m" >/dev/null 2>&1 || true; done
	fusermount3 -u "$W/restic-mnt" 2>/dev/null || true
	[[ -n ${restic_pid:-} ]] && kill "$restic_pid" 2>/dev/null || true
	"$ROOT/integration/servers/run.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# tcat FILE: seconds to read FILE with cat.
tcat() {
	local t0 t1
	t0=$(date +%s%N)
	cat "$1" >/dev/null
	t1=$(date +%s%N)
	echo "scale=4; ($t1 - $t0) / 1000000000" | bc
}

# lmount REV DIR: mount in the current repository; prints the pid.
lmount() {
	mkdir -p "$2"
	git lode mount "$1" "$2" 2>"$W/mount.out" || { cat "$W/mount.out" >&2; return 1; }
	sed -n 's/.*(process \([0-9]*\),.*/\1/p' "$W/mount.out"
}
lumount() { git lode umount "$1" >/dev/null; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
get() { awk -F'\t' -v k="$1" '$1 ~ "^"k"$" {print $2}' "$TSV"; }

log "data: ${SIZE_MB} MiB CSV"
"$GEN" csv -size "$((SIZE_MB * 1048576))" -seed 7 -dir "$W/data" >/dev/null
rm -f "$W"/data/v[234].csv
F=$W/data/v1.csv
BYTES=$(stat -c %s "$F")
rec file_bytes "$BYTES"

log "repository with the file committed (chunks in the local store)"
git init -q "$W/repo"
cd "$W/repo"
git lode track "*.csv" >/dev/null
mkdir -p data
cp "$F" data/big.csv
git add .gitattributes data/big.csv
git commit -q -m data
cat data/big.csv >/dev/null

# 1, 2, 3, 6. Reads through the lode mount; each rep is a fresh mount (cold
# FUSE page cache; the store's packs are in the page cache: "chunks local").
for r in $(seq 1 "$REPS"); do
	log "1. lode mount, rep $r/$REPS"
	pid=$(lmount HEAD "$W/m$r")
	rec "lode_first_s_$r" "$(tcat "$W/m$r/data/big.csv")"
	rec "lode_second_s_$r" "$(tcat "$W/m$r/data/big.csv")"
	rec "lode_repeat_s_$r" "$(tcat "$W/m$r/data/big.csv")"
	rec "checkout_cat_s_$r" "$(tcat data/big.csv)"
	rec "lode_rss_kib_$r" "$(awk '/VmHWM/ {print $2}' /proc/"$pid"/status)"
	lumount "$W/m$r"
	lmount HEAD "$W/r$r" >/dev/null
	rec "lode_random4k_per_s_$r" "$("$RANDREAD" -file "$W/r$r/data/big.csv" -random 5s)"
	lumount "$W/r$r"
done

log "1. restic mount of the same file"
restic init --quiet --repo "$W/restic" >/dev/null
restic backup --quiet --repo "$W/restic" "$W/repo/data" >/dev/null
mkdir -p "$W/restic-mnt"
restic mount --repo "$W/restic" "$W/restic-mnt" >"$W/restic-mount.log" 2>&1 &
restic_pid=$!
rf=$W/restic-mnt/snapshots/latest$W/repo/data/big.csv
for _ in $(seq 1 100); do [[ -f $rf ]] && break; sleep 0.1; done
[[ -f $rf ]] || { echo "restic mount did not come up:" >&2; cat "$W/restic-mount.log" >&2; exit 1; }
for r in $(seq 1 "$REPS"); do
	rec "restic_first_s_$r" "$(tcat "$rf")"
done
kill "$restic_pid"
wait "$restic_pid" 2>/dev/null || true
restic_pid=
fusermount3 -u "$W/restic-mnt" 2>/dev/null || true

# 4. Remote only: a clone without data of a repository whose data is on the
# S3 server; one 1 MiB read in the middle of the file, on a fresh mount.
log "4. remote-only read through the S3 server"
"$ROOT/integration/servers/run.sh" start >/dev/null
eval "$("$ROOT/integration/servers/run.sh" env)"
export LODE_REMOTE_URL="s3://$LODE_TEST_S3_BUCKET/mount-bench-$$"
git init -q --bare "$W/server.git"
git remote add origin "$W/server.git"
git push -q origin main 2>/dev/null
cd "$W"
GIT_LODE_SKIP_SMUDGE=1 git clone -q server.git clone
cd clone
for r in $(seq 1 "$REPS"); do
	rm -rf .git/lode/cache
	lmount HEAD "$W/s$r" >/dev/null
	rec "remote_1mib_read_s_$r" "$("$RANDREAD" -file "$W/s$r/data/big.csv" -at 0.5 -size 1048576)"
	sleep 1.2 # the mount publishes its figures every second
	stats=$(cat .git/lode/mounts/*.json)
	rec "remote_fetched_bytes_$r" "$(echo "$stats" | sed -n 's/.*"fetched_bytes": \([0-9]*\).*/\1/p')"
	rec "remote_requests_$r" "$(echo "$stats" | sed -n 's/.*"remote_requests": \([0-9]*\).*/\1/p')"
	rec "first_read_requests_$r" "$(echo "$stats" | sed -n 's/.*"first_read_requests": \([0-9]*\).*/\1/p')"
	rec "first_read_bytes_$r" "$(echo "$stats" | sed -n 's/.*"first_read_bytes": \([0-9]*\).*/\1/p')"
	lumount "$W/s$r"
done
rec s3_request_s "$(curl -s -o /dev/null -w '%{time_total}' "$AWS_ENDPOINT_URL/")"
unset LODE_REMOTE_URL
"$ROOT/integration/servers/run.sh" stop >/dev/null

# 5. Mount to ready on a 100,000-file tree.
log "5. mount of a 100,000-file tree"
git init -q "$W/big-tree"
cd "$W/big-tree"
python3 -c '
import sys
w = sys.stdout.write
w("blob\nmark :1\ndata 6\nhello\n")
w("commit refs/heads/main\ncommitter b <b@b> 1700000000 +0000\ndata 4\ntree\n")
for i in range(100000):
    w("M 100644 :1 d%03d/f%05d.txt\n" % (i // 1000, i))
w("\n")
' | git fast-import --quiet
for r in $(seq 1 "$REPS"); do
	t0=$(date +%s%N)
	lmount main "$W/t$r" >/dev/null
	t1=$(date +%s%N)
	ls "$W/t$r/d050" >/dev/null
	t2=$(date +%s%N)
	rec "tree100k_mount_s_$r" "$(echo "scale=4; ($t1 - $t0) / 1000000000" | bc)"
	rec "tree100k_first_ls_s_$r" "$(echo "scale=4; ($t2 - $t1) / 1000000000" | bc)"
	lumount "$W/t$r"
done

# Summary.
mb=$(echo "scale=2; $BYTES / 1048576" | bc)
med() { get "$1_[0-9]*" | median; }
lf=$(med lode_first_s) l2=$(med lode_second_s) lr=$(med lode_repeat_s) cc=$(med checkout_cat_s) rs=$(med restic_first_s)
rnd=$(med lode_random4k_per_s) rss=$(get 'lode_rss_kib_[0-9]*' | sort -g | tail -1)
rt=$(med remote_1mib_read_s) rb=$(med remote_fetched_bytes) rq=$(med remote_requests) rtt=$(get s3_request_s)
fq=$(med first_read_requests) fb=$(med first_read_bytes)
tm=$(med tree100k_mount_s) tl=$(med tree100k_first_ls_s)
rate() { echo "scale=1; $mb / $1" | bc; }
verdict() { if (( $(echo "scale=4; $1" | bc) )); then echo PASS; else echo MISS; fi; }
cat >"$OUT/mount.md" <<MD
## Mount ($(date -u +%Y-%m-%d), ${mb} MiB CSV, medians of $REPS)

| measure | value | target | result |
| --- | ---: | --- | --- |
| first sequential read through \`git lode mount\`, chunks in the local store | $lf s ($(rate "$lf") MiB/s) | | |
| same file through \`restic mount\` | $rs s ($(rate "$rs") MiB/s) | | |
| lode / restic | $(echo "scale=2; $rs / $lf" | bc)× | ≥ 5× | $(verdict "$rs / $lf >= 5") |
| second read through the mount | $l2 s ($(rate "$l2") MiB/s) | | |
| third read through the mount (steady state) | $lr s ($(rate "$lr") MiB/s) | | |
| \`cat\` of the checked-out file (page cache) | $cc s ($(rate "$cc") MiB/s) | | |
| repeated (third read) / checked-out | $(echo "scale=0; 100 * $cc / $lr" | bc)% (second read: $(echo "scale=0; 100 * $cc / $l2" | bc)%) | ≥ 60% | $(verdict "$cc / $lr >= 0.6") |
| random 4 KiB reads, fresh mount, chunks local | $rnd /s | | |
| 1 MiB read in the middle of a remote-only file (S3 server on 127.0.0.1), fresh mount and cache | $rt s | | |
| requests before its data was there (manifest, then ranged reads), i.e. round trips to the first byte | $fq | ≤ 3 | $(verdict "$fq <= 3") |
| bytes fetched by then (stored = compressed chunk bytes covering the read) | $fb | | |
| all requests and bytes, readahead (ours and the kernel's) included | $rq requests, $rb bytes | | |
| one request to the S3 server, for scale | $rtt s | | |
| \`git lode mount\` to ready, 100,000-file tree (includes starting the mount process) | $tm s | < 200 ms | $(verdict "$tm < 0.2") |
| then the first \`ls\` of a 1,000-entry directory | $tl s | | |
| peak RSS of the mount process (max over reps) | $((rss / 1024)) MiB | | |
MD
cat "$OUT/mount.md"
