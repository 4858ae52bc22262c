#!/usr/bin/env bash
# Serve benchmark (issue 11): runs alone after `make build`:
#
#   ./bench/serve.sh            # BENCH_SIZE_MB (1024) CSV; writes bench/out/serve.md and serve.tsv
#
# Measures, in one run, on the same committed file (chunks in the local
# store), each rep on a fresh mount / fresh server (no page or chunk memory
# of a previous read):
#   1. sequential read: `cat` through `git lode mount`; `curl` of
#      `git lode serve`'s URL; lodefs (fsspec) reading 4 MiB at a time;
#   2. random 4 KiB reads per second for BENCH_RANDOM_S seconds: pread
#      through the mount (bench/randread); Range requests to git lode
#      serve on one keep-alive connection (Python's http.client); lodefs
#      (fs.open with block_size 4096, no cache: one request per read).
# Needs Debian's python3-fsspec for /usr/bin/python3 (make deps).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
RANDOM_S=${BENCH_RANDOM_S:-5}
PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/serve-work
rm -rf "$W"
mkdir -p "$W"

. "$ROOT/bench/lib.sh"
bench_isolate "$W/home" "$OUT"
export PYTHONPATH=$ROOT/python LODEFS_GIT_LODE=$ROOT/bin/git-lode PYTHONDONTWRITEBYTECODE=1
git lode install --global --skip-hooks >/dev/null
"$PY" -c 'import fsspec' || { echo "serve.sh: $PY cannot import fsspec (apt-get install python3-fsspec)" >&2; exit 1; }

GEN=$OUT/bin/gen RANDREAD=$OUT/bin/randread
mkdir -p "$OUT/bin"
(cd "$ROOT" && go build -o "$GEN" ./bench/gen && go build -o "$RANDREAD" ./bench/randread)

TSV=$OUT/serve.tsv
: >"$TSV"
rec() { printf '%s\t%s\n' "$1" "$2" >>"$TSV"; echo "  $1 = $2" >&2; }
log() { echo "[$(date +%T)] $*" >&2; }
srv_pid=
cleanup() {
	for m in $(awk -v w="$W" '$2 ~ "^"w {print $2}' /proc/self/mounts); do git lode umount --lazy "$m" >/dev/null 2>&1 || true; done
	[[ -n $srv_pid ]] && kill "$srv_pid" 2>/dev/null || true
}
trap cleanup EXIT

secs() { echo "scale=4; ($2 - $1) / 1000000000" | bc; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
get() { awk -F'\t' -v k="$1" '$1 ~ "^"k"$" {print $2}' "$TSV"; }

# serve_start: starts git lode serve in the current repository on a free
# port; sets srv_pid and URL.
serve_start() {
	local fifo=$W/serve.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	"$ROOT/bin/git-lode" serve --addr 127.0.0.1:0 >"$fifo" 2>"$W/serve.err" &
	srv_pid=$!
	read -r URL <"$fifo"
	rm -f "$fifo"
}
serve_stop() { kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=; }

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
SUM=$(sha256sum <data/big.csv | cut -d' ' -f1)
cat .git/lode/packs/* >/dev/null 2>&1 || true # the store's packs in the page cache for every reader alike

LODEFS_SEQ=$(cat <<'PY'
import hashlib, sys, time, fsspec, lodefs
fs = fsspec.filesystem("lode")
fs.info("main/data/big.csv")            # the server is started and ready
t = time.monotonic()
h = hashlib.sha256()
with fs.open("main/data/big.csv", block_size=4 << 20, cache_type="none") as f:
    while True:
        b = f.read(4 << 20)
        if not b:
            break
        h.update(b)
print("%.4f %s" % (time.monotonic() - t, h.hexdigest()))
PY
)
RANDOM_HTTP=$(cat <<'PY'
import http.client, random, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1]); size = int(sys.argv[2]); dur = float(sys.argv[3])
c = http.client.HTTPConnection(u.hostname, u.port)
r = random.Random(1); n = 0; t = time.monotonic()
while time.monotonic() - t < dur:
    off = r.randrange(0, size - 4096) & ~4095
    c.request("GET", "/main/data/big.csv", headers={"Range": "bytes=%d-%d" % (off, off + 4095)})
    resp = c.getresponse(); b = resp.read()
    assert resp.status == 206 and len(b) == 4096, resp.status
    n += 1
print("%.0f" % (n / (time.monotonic() - t)))
PY
)
RANDOM_LODEFS=$(cat <<'PY'
import random, sys, time, fsspec, lodefs
size = int(sys.argv[1]); dur = float(sys.argv[2])
fs = fsspec.filesystem("lode")
f = fs.open("main/data/big.csv", block_size=4096, cache_type="none")
r = random.Random(1); n = 0; t = time.monotonic()
while time.monotonic() - t < dur:
    f.seek(r.randrange(0, size - 4096) & ~4095)
    assert len(f.read(4096)) == 4096
    n += 1
print("%.0f" % (n / (time.monotonic() - t)))
PY
)

for r in $(seq 1 "$REPS"); do
	log "rep $r/$REPS: sequential"
	mkdir -p "$W/m$r"
	git lode mount HEAD "$W/m$r" 2>/dev/null
	t0=$(date +%s%N); s=$(sha256sum <"$W/m$r/data/big.csv" | cut -d' ' -f1); t1=$(date +%s%N)
	[[ $s == "$SUM" ]] || { echo "mount read differs" >&2; exit 1; }
	rec "mount_seq_s_$r" "$(secs "$t0" "$t1")"
	git lode umount "$W/m$r" >/dev/null

	serve_start
	t0=$(date +%s%N); s=$(curl -sf "${URL}main/data/big.csv" | sha256sum | cut -d' ' -f1); t1=$(date +%s%N)
	[[ $s == "$SUM" ]] || { echo "served bytes differ" >&2; exit 1; }
	rec "serve_seq_s_$r" "$(secs "$t0" "$t1")"
	serve_stop

	out=$("$PY" -c "$LODEFS_SEQ")
	[[ ${out#* } == "$SUM" ]] || { echo "lodefs read differs" >&2; exit 1; }
	rec "lodefs_seq_s_$r" "${out% *}"

	log "rep $r/$REPS: random 4 KiB reads for ${RANDOM_S}s each"
	mkdir -p "$W/r$r"
	git lode mount HEAD "$W/r$r" 2>/dev/null
	rec "mount_rand_per_s_$r" "$("$RANDREAD" -file "$W/r$r/data/big.csv" -random "${RANDOM_S}s")"
	git lode umount "$W/r$r" >/dev/null
	serve_start
	rec "serve_rand_per_s_$r" "$("$PY" -c "$RANDOM_HTTP" "$URL" "$BYTES" "$RANDOM_S")"
	rec "serve_rss_kib_$r" "$(awk '/VmHWM/ {print $2}' /proc/"$srv_pid"/status)"
	serve_stop
	rec "lodefs_rand_per_s_$r" "$("$PY" -c "$RANDOM_LODEFS" "$BYTES" "$RANDOM_S")"
done

mb=$(echo "scale=2; $BYTES / 1048576" | bc)
med() { get "$1_[0-9]*" | median; }
ms=$(med mount_seq_s) ss=$(med serve_seq_s) ls=$(med lodefs_seq_s)
mr=$(med mount_rand_per_s) sr=$(med serve_rand_per_s) lr=$(med lodefs_rand_per_s)
rss=$(get 'serve_rss_kib_[0-9]*' | sort -g | tail -1)
rate() { echo "scale=1; $mb / $1" | bc; }
cat >"$OUT/serve.md" <<MD
## Serve ($(date -u +%Y-%m-%d), ${mb} MiB CSV, chunks in the local store, medians of $REPS)

| measure | git lode mount | git lode serve | lodefs |
| --- | ---: | ---: | ---: |
| sequential read, fresh mount / server | $ms s ($(rate "$ms") MiB/s) | $ss s ($(rate "$ss") MiB/s) | $ls s ($(rate "$ls") MiB/s) |
| random 4 KiB reads per second | $mr | $sr | $lr |

Sequential: \`sha256sum\` of the file in the mount; \`curl\` of the URL into
\`sha256sum\`; lodefs reading 4 MiB at a time (hashing in Python). Random:
\`bench/randread\` (pread) on the mount; Range requests on one keep-alive
connection from Python's http.client; lodefs \`f.seek\` + \`f.read(4096)\`
with \`block_size=4096, cache_type="none"\` (one request per read). Peak RSS
of the server during the random reads: ${rss} KiB. Machine: $(nproc) cores,
$(uname -r); other processes may share the CPUs.
MD
cat "$OUT/serve.md"
rm -rf "$W"
