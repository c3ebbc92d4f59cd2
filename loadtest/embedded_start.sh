#!/usr/bin/env bash
# loadtest/embedded_start.sh: how long `qredge serve` on its embedded defaults takes to serve
# CODES codes after it is started, and how much memory it holds then.
#
# WHAT IT DOES
#   1. In a mktemp -d work dir: a first `qredge serve` bootstraps the store (team, credential).
#   2. A CSV of CODES codes c00000001 -> https://example.com/<displayId> is loaded with
#      `qredge import` (timed).
#   3. REPEAT times: `qredge serve` pinned to CPU SERVER_CPU, timed from the spawn until the first
#      and the last code answer 302 with their Location (polled every 50 ms); then the CPU time
#      it took so far (user + system: on a busy machine the wall time measures the neighbours
#      too), its VmRSS and VmHWM. With DROP_CACHES=1 (root) the page cache is dropped before the
#      first start, which then reads the store from the disk.
#   4. With CHANGES=N: after the first start serves, N updates of N codes' targets through the
#      API (4 connections), then 200 more one at a time, each timed until the edge serves it
#      (the propagation p50/p99/max); then the CPU time, VmRSS and VmHWM again. What the edge's
#      change follower costs a big table: its folds of changes into the packed routes.
#   With WORKDIR=DIR (a work dir an earlier run kept, KEEP_WORKDIR=1) steps 1 and 2 are skipped:
#   the starts of another build on the same store (CODES must be what it was imported with).
#
# USAGE
#   loadtest/embedded_start.sh                        # 10M codes, 3 starts
#   CODES=1000000 REPEAT=1 loadtest/embedded_start.sh
#   WORKDIR=/tmp/qredge-embedded-start.AbC123 QREDGE=/tmp/qredge-old loadtest/embedded_start.sh
#   CODES=10000000 REPEAT=1 CHANGES=3000 loadtest/embedded_start.sh
#   Knobs (defaults): CODES=10000000 REPEAT=3 CHANGES=0 SERVER_CPU=0 DROP_CACHES=0 READY_TIMEOUT=600
#   KEEP_WORKDIR=0 WORKDIR= QREDGE (default target/release/qredge, built if missing).
#   Disk: ~740 bytes per code (7.4 GB for 10M).

set -Eeuo pipefail

CODES=${CODES:-10000000}
REPEAT=${REPEAT:-3}
CHANGES=${CHANGES:-0}
SERVER_CPU=${SERVER_CPU:-0}
DROP_CACHES=${DROP_CACHES:-0}
READY_TIMEOUT=${READY_TIMEOUT:-600}
KEEP_WORKDIR=${KEEP_WORKDIR:-0}
WORKDIR=${WORKDIR:-}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QREDGE=${QREDGE:-$REPO/target/release/qredge}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

if [[ -n $WORKDIR ]]; then
    [[ -s $WORKDIR/data/store.redb ]] || die "WORKDIR=$WORKDIR holds no data/store.redb"
    WORK=$WORKDIR
    KEEP_WORKDIR=1
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/qredge-embedded-start.XXXXXX")
fi
QPID=""
cleanup() {
    local rc=$?
    [[ -n $QPID ]] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
    if [[ $rc -eq 0 && $KEEP_WORKDIR != 1 ]]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
    exit "$rc"
}
trap cleanup EXIT

if [[ ! -x $QREDGE ]]; then
    log "cargo build --release --bin qredge"
    (cd "$REPO" && cargo build --release --bin qredge) >&2 || die "cargo build failed"
fi
PORTS=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
EDGE_PORT=${PORTS% *}
API_PORT=${PORTS#* }
# The per-team rate limit is lifted for CHANGES: the client writes as fast as it can.
printf '[api.requests_per_minute]\nbusiness_plus = 1000000000\n' >"$WORK/serve.toml"
serve() { # pinned qredge serve on the work dir; sets QPID
    QREDGE_DATA_DIR=$WORK/data QREDGE_EDGE_LISTEN=127.0.0.1:$EDGE_PORT \
        QREDGE_API_LISTEN=127.0.0.1:$API_PORT taskset -c "$SERVER_CPU" "$QREDGE" serve \
        --config "$WORK/serve.toml" >>"$WORK/serve.log" 2>&1 &
    QPID=$!
}
stop() { kill "$QPID"; wait "$QPID" || true; QPID=""; }
answers() { # displayId: 0 when it answers 302 to its own URL (or, after CHANGES, one below it)
    [[ $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$EDGE_PORT/$1") \
        == "302 https://example.com/$1"?(/*) ]]
}

log "work dir: $WORK"
populate() { # bootstraps the store and imports CODES codes into it
    serve
    for ((i = 0; i < 300; i++)); do [[ -s $WORK/data/bootstrap.json ]] && break; sleep 0.1; done
    [[ -s $WORK/data/bootstrap.json ]] || die "no bootstrap.json"
    stop
    TEAM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["teamId"])' "$WORK/data/bootstrap.json")
    python3 - "$CODES" "$WORK/codes.csv" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("displayId,url,type\n")
    for i in range(1, n + 1):
        f.write("c%08d,https://example.com/c%08d,WEB\n" % (i, i))
PY
    log "importing $CODES codes"
    t0=$(date +%s.%N)
    QREDGE_DATA_DIR=$WORK/data "$QREDGE" import --team "$TEAM" "$WORK/codes.csv" >"$WORK/import.out" 2>>"$WORK/serve.log" \
        || die "qredge import failed"
    t1=$(date +%s.%N)
    rm -f "$WORK/codes.csv"
    echo "import: $(tail -n 1 "$WORK/import.out") in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s;" \
        "store.redb $(du -h "$WORK/data/store.redb" | cut -f1)"
}
changes() { # CHANGES updates, then 200 timed ones; the process's CPU and memory after them
    local api=http://127.0.0.1:$API_PORT edge=http://127.0.0.1:$EDGE_PORT
    local writes=$REPO/loadtest/writes.py boot=$WORK/data/bootstrap.json
    python3 "$writes" ids "$api" "$boot" "$CHANGES" "$WORK/ids.tsv" >/dev/null || die "listing codes failed"
    python3 "$writes" updates "$api" "$boot" "$WORK/ids.tsv" "$CHANGES" 4 || die "updates failed"
    python3 "$writes" propagation "$api" "$edge" "$boot" "$WORK/ids.tsv" 200 || true
    echo "after $CHANGES changes: CPU $(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$QPID/stat") s;" \
        "VmRSS $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$QPID/status") kB," \
        "VmHWM $(awk '$1 == "VmHWM:" { print $2 }' "/proc/$QPID/status") kB"
}
if [[ -z $WORKDIR ]]; then populate; fi
FIRST=$(printf 'c%08d' 1)
LAST=$(printf 'c%08d' "$CODES")
for ((n = 1; n <= REPEAT; n++)); do
    sync
    if [[ $DROP_CACHES == 1 && $n == 1 ]]; then
        echo 3 >/proc/sys/vm/drop_caches || die "DROP_CACHES=1 needs root"
    fi
    t0=$(date +%s.%N)
    serve
    ready=0
    for ((i = 0; i < READY_TIMEOUT * 20; i++)); do
        answers "$FIRST" && { ready=1; break; }
        kill -0 "$QPID" 2>/dev/null || die "qredge serve exited; see $WORK/serve.log"
        sleep 0.05
    done
    t1=$(date +%s.%N)
    ((ready)) || die "not serving after ${READY_TIMEOUT}s"
    answers "$LAST" || die "$LAST does not answer"
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$QPID/status")
    hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$QPID/status")
    # utime and stime, fields 14 and 15 of /proc/PID/stat (the name in field 2 has no spaces).
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$QPID/stat")
    echo "start $n$([[ $DROP_CACHES == 1 && $n == 1 ]] && echo ' (page cache dropped)'):" \
        "serving after $(python3 -c "print(f'{$t1 - $t0:.2f}')") s (CPU ${cpu} s);" \
        "VmRSS ${rss} kB, VmHWM ${hwm} kB"
    if [[ $CHANGES -gt 0 && $n == 1 ]]; then changes; fi
    stop
done
