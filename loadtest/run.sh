#!/usr/bin/env bash
# loadtest/run.sh: qredge's scan edge against nginx serving the same redirects, over loopback.
#
# WHAT IT MEASURES
#   Redirect throughput and latency of one server core. The server under test (nginx, then qredge)
#   is pinned to CPU $SERVER_CPU (default 0: for qredge that is the whole process, i.e. the edge,
#   the scan pipeline, the aggregator and its event log); wrk is pinned to CPU $CLIENT_CPU
#   (default 1). Every server holds the same $CODES codes (c000001 -> https://example.com/c000001,
#   ...), and wrk asks for the same pre-built list of random codes, with the same settings
#   (-t$THREADS -c$CONNECTIONS -d$DURATION, a browser User-Agent, keep-alive), after a discarded
#   $WARMUP warm-up. Three servers, in this order, measured in turn $ROUNDS times (rounds):
#     nginx-nolog   nginx, worker_processes 1, `map $uri $target` + `return 302`, access_log off
#     nginx-log     the same with `access_log FILE combined buffer=64k`: nginx doing *some* per-scan
#                   bookkeeping, the fairer comparison for a server that records every scan
#     qredge        `qredge serve` on a fresh data dir (codes created through the API beforehand)
#     qredge-healthz  diagnostic (EDGE_RUN=1): the same load on qredge's GET /healthz (200 "ok"),
#                   which skips the lookup and the scan hand-off: about the edge without the
#                   scan pipeline's share of the core
#   Then, for qredge only: whether every scan was counted (analytics settle, then the sum of
#   totalScans over all codes vs. the requests wrk completed, and an exact test: $HOT_REQUESTS
#   GETs on one extra code "hot" vs. its totalScans), and the process's peak RSS (VmHWM).
#
# HOW TO READ THE OUTPUT
#   One line per server:  req/s   p50   p99   non-2xx/3xx   socket errors   requests
#     - req/s, p50, p99 are wrk's (--latency) for the measured run only.
#     - non-2xx/3xx is wrk's count of responses with status >= 400; it must be 0 (a wrong path
#       list would show up here as 404s). Before each run a sample of codes is also checked to
#       answer 302 with the exact Location, and an unknown code 404.
#     - socket errors (connect/read/write/timeout) must be 0 too.
#     - cpu srv/wrk/oth: CPU used during the measured run, in % of one core, by the server's
#       processes, by wrk, and by everything else. The server near 100% = it is the bottleneck,
#       as intended; wrk near 100% with the server below = the client limits the figure; a run
#       where "oth" exceeds DISTURB_MAX (20) is measured again (MEASURE_TRIES, 3), and flagged
#       at the end if it never was quiet.
#   Before each server the script waits (QUIET_WAIT, 600 s) for the machine to be idle, and
#   says at the end if it had to measure on a busy machine (a compiler on the other CPU is
#   enough to skew the figures).
#   The table shows the last round. With ROUNDS > 1, a line per round follows with its req/s and
#   ratios: this machine's speed drifts by ±15 % over minutes, so a ratio is only taken between
#   servers of one round. Then the ratios qredge/nginx-nolog and qredge/nginx-log for req/s
#   (1.00 = as fast as nginx; the median of the rounds' ratios) and p99 (last round), qredge's RSS, and "counted X of Y" lines: X must equal Y for the exact test; for
#   the full run X may exceed Y by at most the requests in flight when wrk stopped
#   (<= 2 x CONNECTIONS, warm-up + measured run).
#   All logs (qredge stdout/stderr, nginx error log, raw wrk output) are in the work dir, which is
#   printed at the start and kept when the script fails or KEEP_WORKDIR=1.
#
# USAGE
#   loadtest/run.sh                      # 10k codes, 10 s runs, 64 connections
#   CODES=100000 DURATION=20s loadtest/run.sh
#   Environment knobs (defaults): CODES=10000 DURATION=10s WARMUP=2s CONNECTIONS=64 THREADS=1
#   PATHS=10000 (distinct request strings wrk cycles through) HOT_REQUESTS=5000 SERVER_CPU=0
#   CLIENT_CPU=1 LOADER=api (how codes get into qredge: api | import) CREATE_WORKERS=16
#   ROUNDS=3 (how many times the servers are measured in turn)
#   HALF_LOAD=1 (then qredge and nginx-log at half qredge's maximum rate with h2load --rps: p50/p99
#   of a server that is not saturated; 0 skips it)
#   GEOIP=1 (qredge locates every scan in GeoLite2-City, each request coming from a random public
#   address through a trusted X-Forwarded-For; 0: no GeoIP database)
#   QREDGE_BEFORE= (a second build, e.g. of the commit before a hot-path change: measured in each
#   round right after qredge on the same codes; the report adds qredge/qredge-before per round)
#   FULL_COUNT=1 (sum totalScans over every code after the run) KEEP_WORKDIR=0 SKIP_BUILD=0
#   QUIET_WAIT=600 QUIET_MAX=10 SETTLE_TIMEOUT=120 READY_TIMEOUT=120 CREATE_TIMEOUT=3600.
#   Needs root (or sudo) only if wrk/nginx/curl are missing. Everything listens on
#   127.0.0.1 on free ports; every process started here is stopped on exit, even on failure.

set -Eeuo pipefail

CODES=${CODES:-10000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
PATHS=${PATHS:-10000}
HOT_REQUESTS=${HOT_REQUESTS:-5000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
LOADER=${LOADER:-api}
CREATE_WORKERS=${CREATE_WORKERS:-16}
FULL_COUNT=${FULL_COUNT:-1}
KEEP_WORKDIR=${KEEP_WORKDIR:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
EDGE_RUN=${EDGE_RUN:-1}
GEOIP=${GEOIP:-1}
HALF_LOAD=${HALF_LOAD:-1}
ROUNDS=${ROUNDS:-3}   # nginx-nolog, nginx-log, qredge (and /healthz) measured in turn, this many times
READY_TIMEOUT=${READY_TIMEOUT:-120}    # seconds for a server to come up
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-120}  # seconds for qredge's analytics to catch up
CREATE_TIMEOUT=${CREATE_TIMEOUT:-3600} # seconds for populating qredge
USER_AGENT=${USER_AGENT:-"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QREDGE=${QREDGE:-$REPO/target/release/qredge}
# Another build to hold against it (e.g. the commit before a change to the hot path): when set, each
# round also measures `qredge-before` on the same codes, right after qredge, and the report gives
# the ratio qredge/qredge-before per round and its median.
QREDGE_BEFORE=${QREDGE_BEFORE:-}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

seconds_of() { # "10s" / "2m" / "10" -> seconds
    local v=$1
    case $v in
        *s) echo "${v%s}" ;;
        *m) echo $(( ${v%m} * 60 )) ;;
        *) echo "$v" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every background process is recorded, and stopped on exit.
# ---------------------------------------------------------------------------------------------
PIDS=()
WORK=""

stop_pid() { # pid [signal]: TERM (or the given signal), wait up to 15 s, then KILL; children too.
    local pid=$1 sig=${2:-TERM} children i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    children=$(pgrep -P "$pid" || true)
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop after SIG$sig; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for c in $children; do kill -KILL "$c" 2>/dev/null || true; done
}

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$p"; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $rc -eq 0 && $KEEP_WORKDIR != 1 ]]; then
            rm -rf "$WORK"
        else
            log "work dir kept: $WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------------------------
install_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    [[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx)
    command -v curl >/dev/null || missing+=(curl)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v python3 >/dev/null || missing+=(python3)
    [[ $HALF_LOAD != 1 ]] || command -v h2load >/dev/null || missing+=(nghttp2-client)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # Debian starts nginx's service on install where there is an init; we run our own.
        if pgrep -x nginx >/dev/null && command -v service >/dev/null; then
            $sudo service nginx stop >/dev/null 2>&1 || true
        fi
    fi
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    local ncpu
    ncpu=$(nproc --all)
    ((SERVER_CPU < ncpu && CLIENT_CPU < ncpu)) || die "need CPUs $SERVER_CPU and $CLIENT_CPU; have $ncpu"
    [[ $SERVER_CPU != "$CLIENT_CPU" ]] || log "WARNING: server and wrk share CPU $SERVER_CPU"
}

# GeoIP: the target is an edge enriching every scan, so qredge gets a real City database (the
# 2018 GeoLite2-City.mmdb that PyPI's maxminddb-geolite2 carries, fetched once into a cache; not
# for committing) and each request a public client address through a trusted X-Forwarded-For.
fetch_geoip() {
    GEOIP_DB=""
    [[ $GEOIP == 1 ]] || { log "GEOIP=0: scans are not located"; return; }
    local cache=${XDG_CACHE_HOME:-$HOME/.cache}/qredge-loadtest
    GEOIP_DB=$cache/GeoLite2-City.mmdb
    [[ -s $GEOIP_DB ]] && return
    log "fetching GeoLite2-City.mmdb (PyPI maxminddb-geolite2) into $cache"
    mkdir -p "$cache"
    python3 -m pip download --quiet --no-deps maxminddb-geolite2 -d "$cache/pypi" >&2 ||
        die "cannot download maxminddb-geolite2 from PyPI (GEOIP=0 measures without GeoIP)"
    python3 - "$cache/pypi" "$GEOIP_DB" <<'PY' || die "no GeoLite2-City.mmdb in maxminddb-geolite2"
import glob, shutil, sys, tarfile, zipfile
src, dest = sys.argv[1], sys.argv[2]
for archive in glob.glob(src + "/maxminddb*geolite2*"):
    if archive.endswith(".whl"):
        z = zipfile.ZipFile(archive)
        name = next(n for n in z.namelist() if n.endswith("GeoLite2-City.mmdb"))
        with z.open(name) as f, open(dest, "wb") as out:
            shutil.copyfileobj(f, out)
    else:
        t = tarfile.open(archive)
        member = next(m for m in t.getmembers() if m.name.endswith("GeoLite2-City.mmdb"))
        with t.extractfile(member) as f, open(dest, "wb") as out:
            shutil.copyfileobj(f, out)
    sys.exit(0)
sys.exit(1)
PY
}

# ---------------------------------------------------------------------------------------------
# 2. Build
# ---------------------------------------------------------------------------------------------
build_qredge() {
    if [[ $SKIP_BUILD == 1 && -x $QREDGE ]]; then
        log "SKIP_BUILD=1: using $QREDGE"
        return
    fi
    log "cargo build --release --bin qredge"
    (cd "$REPO" && cargo build --release --bin qredge) >"${TMPDIR:-/tmp}/qredge-loadtest-build.log" 2>&1 || {
        tail -n 30 "${TMPDIR:-/tmp}/qredge-loadtest-build.log" >&2
        die "cargo build failed (SKIP_BUILD=1 reuses an existing target/release/qredge)"
    }
    tail -n 1 "${TMPDIR:-/tmp}/qredge-loadtest-build.log" >&2
    [[ -x $QREDGE ]] || die "no $QREDGE after the build"
}

# ---------------------------------------------------------------------------------------------
# Helpers in Python (stdlib only): code list, path list, creating codes, checks, counting.
# ---------------------------------------------------------------------------------------------
write_helpers() {
    cat >"$WORK/helper.py" <<'PY'
import http.client, json, random, socket, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

def hostport(url):
    # "http://127.0.0.1:123/" -> ("127.0.0.1", 123)
    hp = url.split("//", 1)[1].split("/", 1)[0]
    h, p = hp.rsplit(":", 1)
    return h, int(p)

class Api:
    """One keep-alive connection per thread to qredge's API."""
    def __init__(self, url, bootstrap):
        self.host, self.port = hostport(url)
        b = json.load(open(bootstrap))
        self.headers = {
            "x-request-team-id": b["teamId"],
            "x-request-client-id": b["clientId"],
            "x-request-client-secret": b["clientSecret"],
            "content-type": "application/json",
        }
        self.local = threading.local()

    def post(self, path, body):
        for attempt in range(5):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                conn.request("POST", path, json.dumps(body), self.headers)
                r = conn.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

def gen(n, out):
    width = max(6, len(str(n)))
    with open(out, "w") as f:
        for i in range(1, n + 1):
            d = "c%0*d" % (width, i)
            f.write("%s\thttps://example.com/%s\n" % (d, d))

def public_ipv4(rng):
    # A random address outside the private, loopback, link-local and multicast blocks: what a
    # phone's scan comes from, so that GeoIP does a real lookup (some find a city, some do not).
    while True:
        a, b = rng.randint(1, 223), rng.randint(0, 255)
        if a in (10, 127) or (a == 172 and 16 <= b < 32) or (a == 192 and b == 168) or (a == 169 and b == 254):
            continue
        return "%d.%d.%d.%d" % (a, b, rng.randint(0, 255), rng.randint(1, 254))

def paths(tsv, count, out, seed=42):
    # One request per line: the path, and the client address a trusted proxy reports for it.
    ids = [line.split("\t", 1)[0] for line in open(tsv)]
    rng = random.Random(seed)
    with open(out, "w") as f:
        for _ in range(count):
            f.write("/%s\t%s\n" % (rng.choice(ids), public_ipv4(rng)))

def create(api_url, bootstrap, tsv, workers, out_ids):
    api = Api(api_url, bootstrap)
    rows = [line.rstrip("\n").split("\t") for line in open(tsv)]
    failures, ids, lock = [], {}, threading.Lock()
    def one(row):
        d, url = row
        status, data = api.post("/api/qrs-api", {"qrType": "WEB", "displayId": d, "qrRedirectUrl": url})
        with lock:
            if status == 201:
                ids[d] = json.loads(data)["data"]["id"]
            else:
                failures.append((d, status, data[:200]))
    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(one, rows):
            pass
    took = time.monotonic() - t0
    with open(out_ids, "a") as f:
        for d, _ in rows:
            if d in ids:
                f.write("%s\t%s\n" % (d, ids[d]))
    print("created %d of %d codes in %.1f s (%.0f/s, %d workers)%s"
          % (len(ids), len(rows), took, len(ids) / took if took else 0, workers,
             "" if not failures else "; %d FAILED, e.g. %r" % (len(failures), failures[0])))
    return 0 if not failures else 1

def check(edge_url, tsv, sample, ua):
    h, p = hostport(edge_url)
    rows = [line.rstrip("\n").split("\t") for line in open(tsv)]
    rng = random.Random(7)
    picks = rng.sample(rows, min(sample, len(rows)))
    conn = http.client.HTTPConnection(h, p, timeout=10)
    bad = []
    for d, url in picks:
        # HEAD: answered like a GET; qredge keeps it flagged but counts it nowhere, so counts stay exact.
        conn.request("HEAD", "/" + d, headers={"User-Agent": ua})
        r = conn.getresponse(); r.read()
        if r.status != 302 or r.getheader("Location") != url:
            bad.append((d, r.status, r.getheader("Location")))
    conn.request("HEAD", "/no-such-code-xyz", headers={"User-Agent": ua})
    r = conn.getresponse(); r.read()
    if r.status != 404:
        bad.append(("no-such-code-xyz", r.status, "expected 404"))
    if bad:
        print("check: %d bad answers, e.g. %r" % (len(bad), bad[:3]))
        return 1
    print("check: %d sampled codes answer 302 with the right Location; unknown code 404" % len(picks))
    return 0

def fire(edge_url, path, count, threads, ua):
    """Exactly `count` GETs (keep-alive); prints how many got a 302."""
    h, p = hostport(edge_url)
    per = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    results = []
    def run(n):
        conn = http.client.HTTPConnection(h, p, timeout=30)
        got = {}
        for _ in range(n):
            conn.request("GET", path, headers={"User-Agent": ua})
            r = conn.getresponse(); r.read()
            got[r.status] = got.get(r.status, 0) + 1
        conn.close()
        return got
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for got in pool.map(run, per):
            results.append(got)
    statuses = {}
    for got in results:
        for k, v in got.items():
            statuses[k] = statuses.get(k, 0) + v
    took = time.monotonic() - t0
    print("%d %s %.2f" % (statuses.get(302, 0), json.dumps(statuses, separators=(",", ":")), took))
    return 0

def count(api_url, bootstrap, ids_file):
    """Sum of totalScans and botScans over every code in ids_file (100 per call)."""
    api = Api(api_url, bootstrap)
    ids = [line.rstrip("\n").split("\t")[1] for line in open(ids_file) if line.strip()]
    total = bots = 0
    for i in range(0, len(ids), 100):
        status, data = api.post("/api/analytics-api/overviews", {"qrIds": ids[i:i + 100]})
        if status != 200:
            print("overviews answered %d: %r" % (status, data[:200]), file=sys.stderr)
            return 1
        for o in json.loads(data)["data"]:
            total += o.get("totalScans", 0)
            bots += o.get("botScans", 0)
    print(total, bots)
    return 0

def settle(api_url, bootstrap, ids_file, expected, timeout):
    """Polls the count until it reaches `expected` and then stops moving, or `timeout` s pass."""
    import io, contextlib
    t0 = time.monotonic()
    last, stable = None, 0
    while True:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            if count(api_url, bootstrap, ids_file):
                return 1
        total, bots = map(int, buf.getvalue().split())
        waited = time.monotonic() - t0
        stable = stable + 1 if total == last else 0
        last = total
        if (total >= expected and stable >= 2) or waited > timeout:
            print(total, bots, "%.1f" % waited)
            return 0
        time.sleep(1)

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen": gen(int(args[0]), args[1]); rc = 0
    elif cmd == "paths": paths(args[0], int(args[1]), args[2]); rc = 0
    elif cmd == "create": rc = create(args[0], args[1], args[2], int(args[3]), args[4])
    elif cmd == "check": rc = check(args[0], args[1], int(args[2]), args[3])
    elif cmd == "fire": rc = fire(args[0], args[1], int(args[2]), int(args[3]), args[4])
    elif cmd == "count": rc = count(args[0], args[1], args[2])
    elif cmd == "settle": rc = settle(args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif cmd == "freeports":
        socks = [socket.socket() for _ in range(int(args[0]))]
        for s in socks: s.bind(("127.0.0.1", 0))
        print(" ".join(str(s.getsockname()[1]) for s in socks))
        for s in socks: s.close()
        rc = 0
    else: raise SystemExit("unknown command " + cmd)
    sys.exit(rc)
PY
    # wrk: a pre-built table of complete requests, handed out round-robin. Building them in init
    # keeps request() to a table index; a per-request random path in Lua tops out near 70k req/s
    # on one core and would measure wrk instead of the server.
    cat >"$WORK/paths.lua" <<'LUA'
local counter = 0
function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
end

local reqs, n, i = {}, 0, 0
function init(args)
   wrk.headers["User-Agent"] = args[2]
   for line in io.lines(args[1]) do
      local path, client = line:match("^([^\t]+)\t?(.*)$")
      local headers = { ["User-Agent"] = args[2] }
      if client ~= "" then headers["X-Forwarded-For"] = client end
      n = n + 1
      reqs[n] = wrk.format("GET", path, headers)
   end
   assert(n > 0, "empty path list")
   i = ((tid or 0) * 7919) % n   -- threads start at different places in the list
end

function request()
   i = i + 1
   if i > n then i = 1 end
   return reqs[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
LUA
}

# ---------------------------------------------------------------------------------------------
# wrk runs: warm-up (discarded), then the measured run. Sets RESULT_<name>.
# ---------------------------------------------------------------------------------------------
declare -A RPS P50 P99 STATUS_ERR SOCK_ERR REQS WARM_REQS CPUUSE SENT TRIES
SERVER_PIDS=()

wrk_run() { # name url duration outfile [paths file]; wrk's user+sys CPU seconds go to outfile.cpu
    local dur_s TIMEFORMAT='%U %S'
    dur_s=$(seconds_of "$3")
    { time timeout --kill-after=5 $((dur_s + 30)) \
        taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3" --latency \
        -s "$WORK/paths.lua" "$2" -- "${5:-$WORK/paths.txt}" "$USER_AGENT" >"$4" 2>&1; } 2>"$4.cpu" \
        || { cat "$4" >&2; die "wrk failed against $1"; }
}

# One server: wait for a quiet machine, warm up, measure; repeated (up to MEASURE_TRIES) when
# other processes took more than DISTURB_MAX % of a core during the measured run.
MEASURE_TRIES=${MEASURE_TRIES:-3}
DISTURB_MAX=${DISTURB_MAX:-20}
RETRY_HOOK=""   # run before a retry (qredge: let the analytics catch up first)
measure() { # name url [paths file]
    local name=$1 url=$2 paths=${3:-$WORK/paths.txt} line attempt hz
    hz=$(getconf CLK_TCK)
    SENT[$name]=0
    for ((attempt = 1; ; attempt++)); do
        wait_quiet "$name"
        log "$name: warm-up $WARMUP (discarded)"
        wrk_run "$name" "$url" "$WARMUP" "$WORK/wrk-$name-warmup.txt" "$paths"
        log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU)"
        local pids=("${SERVER_PIDS[@]}") p b0 b1 ps0 ps1 w0 w1 usage
        for p in "${SERVER_PIDS[@]}"; do pids+=($(pgrep -P "$p" || true)); done   # nginx's worker
        b0=$(all_busy_ticks)
        ps0=$(proc_ticks "${pids[@]}")
        w0=$(date +%s%N)
        wrk_run "$name" "$url" "$DURATION" "$WORK/wrk-$name.txt" "$paths"
        w1=$(date +%s%N)
        ps1=$(proc_ticks "${pids[@]}")
        b1=$(all_busy_ticks)
        # % of one core over the run: the server's processes, wrk, and everything else (other
        # processes, and kernel work not charged to either, e.g. some loopback softirq).
        usage=$(awk -v dp=$((ps1 - ps0)) -v db=$((b1 - b0)) -v hz="$hz" -v dw=$((w1 - w0)) \
            -v wrk="$(cat "$WORK/wrk-$name.txt.cpu")" \
            'BEGIN { split(wrk, w, " "); s = dw / 1e9; srv = dp / hz / s * 100; cli = (w[1] + w[2]) / s * 100;
                     oth = db / hz / s * 100 - srv - cli; if (oth < 0) oth = 0;
                     printf "%.0f %.0f %.0f", srv, cli, oth }')
        local srv cli oth
        read -r srv cli oth <<<"$usage"
        CPUUSE[$name]="$srv%/$cli%/$oth%"
        sed 's/^/    /' "$WORK/wrk-$name.txt" | grep -v '^    RESULT' >&2
        log "$name: CPU (% of one core) server $srv%, wrk $cli%, others $oth%"
        line=$(grep '^RESULT' "$WORK/wrk-$name.txt") || die "no RESULT line from wrk ($name)"
        local -A r=()
        local kv
        for kv in ${line#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
        RPS[$name]=${r[rps]}
        P50[$name]=${r[p50_us]}
        P99[$name]=${r[p99_us]}
        STATUS_ERR[$name]=${r[status_errors]}
        SOCK_ERR[$name]="$((r[connect] + r[read] + r[write] + r[timeout])) (c${r[connect]}/r${r[read]}/w${r[write]}/t${r[timeout]})"
        REQS[$name]=${r[requests]}
        WARM_REQS[$name]=$(grep -o 'requests=[0-9]*' "$WORK/wrk-$name-warmup.txt" | cut -d= -f2)
        SENT[$name]=$((SENT[$name] + REQS[$name] + WARM_REQS[$name]))
        TRIES[$name]=$attempt
        if [[ ${r[status_errors]} != 0 ]]; then
            log "WARNING: $name answered ${r[status_errors]} non-2xx/3xx responses"
        fi
        ((oth <= DISTURB_MAX)) && break
        if ((attempt >= MEASURE_TRIES)); then
            NOISY_RUNS+=("$name (other work took $oth% of a core during the run)")
            break
        fi
        log "$name: other work took $oth% of a core during the run; measuring again"
        [[ -z $RETRY_HOOK ]] || $RETRY_HOOK
    done
}

# CPU accounting, so that a run disturbed by other work on the machine shows it.
all_busy_ticks() { # busy jiffies of all CPUs (everything but idle and iowait)
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6 }' /proc/stat
}
proc_ticks() { # pids... -> their utime+stime (all threads), jiffies
    local t=0 p v
    for p in "$@"; do
        v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + v))
    done
    echo "$t"
}

# Waits (up to QUIET_WAIT s) until the machine is idle before a measurement: the other CPUs'
# work (a compiler, a test suite) would otherwise land on the server's or wrk's core.
QUIET_WAIT=${QUIET_WAIT:-600}
QUIET_MAX=${QUIET_MAX:-10}   # % of all CPUs busy over 2 s that still counts as quiet
NOISY_RUNS=()
wait_quiet() { # name
    local start=$SECONDS b0 t0 b1 t1 busy warned=0
    while :; do
        read -r b0 t0 < <(awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat)
        sleep 2
        read -r b1 t1 < <(awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat)
        busy=$(( (b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
        ((busy <= QUIET_MAX)) && return 0
        if ((SECONDS - start >= QUIET_WAIT)); then
            log "WARNING: machine still ${busy}% busy after ${QUIET_WAIT}s; measuring $1 anyway"
            return 0
        fi
        if ((!warned)); then
            log "machine ${busy}% busy; waiting up to ${QUIET_WAIT}s for it to be quiet. Top:"
            ps -eo pid,pcpu,etime,comm --sort=-pcpu | head -n 4 | sed 's/^/    /' >&2
            warned=1
        fi
    done
}

wait_http() { # url timeout_s pid: until the URL answers anything
    local url=$1 t=$2 pid=$3 i
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# nginx: the same codes in a map.
# ---------------------------------------------------------------------------------------------
write_nginx_conf() { # variant(nolog|log) port
    local variant=$1 port=$2 dir=$WORK/nginx-$1 access
    mkdir -p "$dir/tmp"
    if [[ $variant == log ]]; then
        access="access_log $dir/access.log combined buffer=64k;"
    else
        access="access_log off;"
    fi
    # map_hash_max_size: at least the number of entries; bucket size fits "/c0000001".
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    $access
    server_tokens off;
    keepalive_timeout 65;
    keepalive_requests 1000000;   # qredge has no per-connection request limit either
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    map_hash_bucket_size 128;
    map_hash_max_size $(( CODES * 2 + 1024 ));
    map \$uri \$target {
        default "";
        include $WORK/nginx-codes.map;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            if (\$target = "") { return 404; }
            add_header Cache-Control "no-store, no-cache, must-revalidate, max-age=0" always;
            return 302 \$target;
        }
    }
}
EOF
}

start_nginx() { # variant: starts nginx pinned to SERVER_CPU; sets NGINX_PID, NGINX_URL
    local variant=$1 port pid
    port=$(python3 "$WORK/helper.py" freeports 1)
    write_nginx_conf "$variant" "$port"
    "$NGINX" -t -q -c "$WORK/nginx-$variant/nginx.conf" -p "$WORK/nginx-$variant" \
        || die "nginx rejected its config"
    taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/nginx-$variant/nginx.conf" -p "$WORK/nginx-$variant" \
        >"$WORK/nginx-$variant/stdout" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    SERVER_PIDS=("$pid")
    wait_http "http://127.0.0.1:$port/healthz" "$READY_TIMEOUT" "$pid" \
        || { cat "$WORK/nginx-$variant/error.log" >&2; die "nginx-$variant did not come up"; }
    python3 "$WORK/helper.py" check "http://127.0.0.1:$port/" "$WORK/codes.tsv" 200 "$USER_AGENT" >&2 \
        || die "nginx-$variant answers wrongly"
    NGINX_PID=$pid
    NGINX_URL="http://127.0.0.1:$port/"
}

run_nginx() { # variant
    local variant=$1 pid
    start_nginx "$variant"
    pid=$NGINX_PID
    measure "nginx-$variant" "$NGINX_URL"
    stop_pid "$pid" QUIT   # graceful: flushes the access log buffer
    forget_pid "$pid"
    if [[ $variant == log ]]; then
        log "nginx-log wrote $(wc -l <"$WORK/nginx-log/access.log") access log lines ($(du -h "$WORK/nginx-log/access.log" | cut -f1))"
        rm -f "$WORK/nginx-log/access.log"
    fi
    if grep -q '\[\(error\|crit\|alert\|emerg\)\]' "$WORK/nginx-$variant/error.log" 2>/dev/null; then
        log "WARNING: nginx-$variant error log:"; tail -n 5 "$WORK/nginx-$variant/error.log" >&2
    fi
}

# ---------------------------------------------------------------------------------------------
# qredge
# ---------------------------------------------------------------------------------------------
QPID=""
EDGE_URL=""
API_URL=""

start_qredge() { # tag [ports] [binary]: starts `qredge serve` on $WORK/data pinned to SERVER_CPU; sets QPID, URLs, QTAG
    local tag=$1 ports=${2:-} binary=${3:-$QREDGE} edge api i
    QTAG=$tag
    [[ -n $ports ]] || ports=$(python3 "$WORK/helper.py" freeports 2)
    edge=${ports% *}
    api=${ports#* }
    # The API's per-team rate limit is lifted: LOADER=api creates the codes as fast as it can.
    printf '[edge]\ntrusted_proxies = ["127.0.0.1/32"]\n[api.requests_per_minute]\nbusiness_plus = 1000000000\n[api.codes_per_team]\nbusiness_plus = 0\n' >"$WORK/qredge.toml"
    QREDGE_DATA_DIR=$WORK/data QREDGE_EDGE_LISTEN=127.0.0.1:$edge QREDGE_API_LISTEN=127.0.0.1:$api \
        env ${GEOIP_DB:+QREDGE_GEOIP_DB="$GEOIP_DB"} taskset -c "$SERVER_CPU" "$binary" serve --config "$WORK/qredge.toml" >"$WORK/qredge-$tag.stdout" 2>"$WORK/qredge-$tag.stderr" &
    QPID=$!
    PIDS+=("$QPID")
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        grep -q '^qredge ready' "$WORK/qredge-$tag.stdout" 2>/dev/null && break
        kill -0 "$QPID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^qredge ready' "$WORK/qredge-$tag.stdout" \
        || { tail -n 20 "$WORK/qredge-$tag.stderr" >&2; die "qredge ($tag) did not print its ready line"; }
    EDGE_URL=http://127.0.0.1:$edge/
    API_URL=http://127.0.0.1:$api/
}

stop_qredge() {
    stop_pid "$QPID" TERM
    forget_pid "$QPID"
    QPID=""
}

# Populating qredge. The API path works today; `qredge import` (CSV, for 1M codes) will replace
# it: implement populate_import and run with LOADER=import. Contract for either: qredge is *not*
# running afterwards, $WORK/data holds codes.tsv's codes plus the code "hot", and
# $WORK/ids.tsv lists "displayId<TAB>qrId" for them (needed for the scan counts).
populate_api() {
    start_qredge populate
    [[ -s $WORK/data/bootstrap.json ]] || die "no bootstrap.json in $WORK/data"
    log "creating $CODES codes through POST /api/qrs-api ($CREATE_WORKERS keep-alive connections, client on CPU $CLIENT_CPU)"
    timeout "$CREATE_TIMEOUT" taskset -c "$CLIENT_CPU" python3 "$WORK/helper.py" create \
        "$API_URL" "$WORK/data/bootstrap.json" "$WORK/codes.tsv" "$CREATE_WORKERS" "$WORK/ids.tsv" \
        | tee "$WORK/create.txt" >&2 || die "creating codes failed"
    printf 'hot\thttps://example.com/hot\n' >"$WORK/hot.tsv"
    python3 "$WORK/helper.py" create "$API_URL" "$WORK/data/bootstrap.json" "$WORK/hot.tsv" 1 "$WORK/hot-id.tsv" >/dev/null \
        || die "creating the code hot failed"
    CREATE_SUMMARY=$(cat "$WORK/create.txt")
    stop_qredge
}

populate_import() {
    # A first serve bootstraps the store (team and credential), then `qredge import` loads the
    # CSV (timed), and the code "hot" is created through the API. Listing 1M codes back for
    # ids.tsv would take longer than the measurement, so the full per-code count is skipped
    # (FULL_COUNT=0); the exact-count test on "hot" still runs.
    start_qredge populate
    [[ -s $WORK/data/bootstrap.json ]] || die "no bootstrap.json in $WORK/data"
    local team
    team=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["teamId"])' "$WORK/data/bootstrap.json")
    stop_qredge
    { echo 'displayId,url,type'; awk -F'\t' '{ printf "%s,%s,WEB\n", $1, $2 }' "$WORK/codes.tsv"; } >"$WORK/codes.csv"
    log "importing $CODES codes with qredge import"
    local t0 t1
    t0=$(date +%s.%N)
    QREDGE_DATA_DIR=$WORK/data timeout "$CREATE_TIMEOUT" "$QREDGE" import --team "$team" "$WORK/codes.csv" \
        >"$WORK/import.out" 2>"$WORK/import.err" || { tail -n 20 "$WORK/import.err" >&2; die "qredge import failed"; }
    t1=$(date +%s.%N)
    CREATE_SUMMARY="$(tail -n 1 "$WORK/import.out") in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
    start_qredge populate-hot
    printf 'hot\thttps://example.com/hot\n' >"$WORK/hot.tsv"
    python3 "$WORK/helper.py" create "$API_URL" "$WORK/data/bootstrap.json" "$WORK/hot.tsv" 1 "$WORK/hot-id.tsv" >/dev/null \
        || die "creating the code hot failed"
    stop_qredge
    : >"$WORK/ids.tsv"
    FULL_COUNT=0
}

# Before a repeated qredge measurement: a fresh process on fresh analytics (the codes stay), so
# every attempt starts alike (an attempt does not inherit the last one's backlog, spool, store
# size or peak RSS) and the counts compare with this attempt's requests only.
QATTEMPT=1
hostport_of() { local p=${1##*:}; echo "${p%/}"; }
fresh_qredge() {
    log "restarting qredge on empty analytics before measuring again"
    stop_qredge
    rm -rf "$WORK/data/events" "$WORK/data/analytics.checkpoint" "$WORK/data/spool"
    QATTEMPT=$((QATTEMPT + 1))
    local ports
    ports="$(hostport_of "$EDGE_URL") $(hostport_of "$API_URL")"
    start_qredge "measure-$QATTEMPT" "$ports"   # the same ports: wrk's URL stays valid
    SERVER_PIDS=("$QPID")
    QREDGE_RSS_IDLE=$(vm "$QPID" VmRSS)
    SENT[qredge]=0
}

# Scans that overflowed qredge's in-memory queue into the disk spool (and were replayed from it).
spooled_scans() {
    { grep -ho 'spool file replayed.* scans=[0-9]*' "$WORK/qredge-$QTAG.stderr" || true; } \
        | awk -F'scans=' '{ n += $2 } END { print n + 0 }'
}

vm() { awk -v k="$2:" '$1 == k { print $2 " " $3 }' "/proc/$1/status"; }

run_qredge() {
    # Fresh analytics each round (the codes stay): the counts compare with this round's requests.
    rm -rf "$WORK/data/events" "$WORK/data/analytics.checkpoint" "$WORK/data/spool"
    start_qredge measure
    SERVER_PIDS=("$QPID")
    QREDGE_RSS_IDLE=$(vm "$QPID" VmRSS)
    log "qredge pid $QPID: $(ls "/proc/$QPID/task" | wc -l) threads, affinity $(taskset -pc "$QPID" | sed 's/.*: //'), VmRSS $QREDGE_RSS_IDLE after start"
    python3 "$WORK/helper.py" check "$EDGE_URL" "$WORK/codes.tsv" 200 "$USER_AGENT" >&2 \
        || die "qredge answers wrongly"
    RETRY_HOOK=fresh_qredge
    measure qredge "$EDGE_URL"
    RETRY_HOOK=""
    QREDGE_HWM=$(vm "$QPID" VmHWM)
    QREDGE_RSS=$(vm "$QPID" VmRSS)
    QREDGE_THREADS=$(ls "/proc/$QPID/task" | wc -l)

    # Every scan counted? Full run: sum over all codes, once the pipeline has caught up.
    local sent=${SENT[qredge]}
    if [[ $FULL_COUNT == 1 ]]; then
        log "waiting for qredge's analytics to settle (up to ${SETTLE_TIMEOUT}s)"
        read -r FULL_X FULL_BOTS FULL_WAIT < <(python3 "$WORK/helper.py" settle "$API_URL" \
            "$WORK/data/bootstrap.json" "$WORK/ids.tsv" "$sent" "$SETTLE_TIMEOUT") || die "counting scans failed"
        FULL_Y=$sent
        SPOOLED_RUN=$(spooled_scans)
    fi
    # Exact test: HOT_REQUESTS GETs on the code "hot", every one answered, every one counted.
    log "exact count test: $HOT_REQUESTS GETs on /hot"
    local fired statuses took
    read -r fired statuses took < <(taskset -c "$CLIENT_CPU" python3 "$WORK/helper.py" fire \
        "$EDGE_URL" /hot "$HOT_REQUESTS" 4 "$USER_AGENT") || die "firing at /hot failed"
    HOT_Y=$fired
    HOT_STATUSES=$statuses
    HOT_TOOK=$took
    read -r HOT_X HOT_BOTS HOT_WAIT < <(python3 "$WORK/helper.py" settle "$API_URL" \
        "$WORK/data/bootstrap.json" "$WORK/hot-id.tsv" "$fired" "$SETTLE_TIMEOUT") || die "counting hot failed"
    QREDGE_HWM_END=$(vm "$QPID" VmHWM)
    # Diagnostic: the same load on GET /healthz, which goes through the same accept loop, hyper
    # and handler but neither looks a code up nor counts a scan: roughly the edge alone, without
    # the scan pipeline's share of the core. (HEAD on a code would be the exact twin, but qredge
    # answers HEAD without a Content-Length, which wrk cannot parse: it waits for EOF.)
    if [[ $EDGE_RUN == 1 ]]; then
        echo /healthz >"$WORK/healthz-paths.txt"
        measure qredge-healthz "$EDGE_URL" "$WORK/healthz-paths.txt"
    fi
    SPOOL_FILES=$(find "$WORK/data/spool" -type f 2>/dev/null | wc -l)
    # (No checkpoint yet is normal: qredge writes one when it stops.)
    ANALYTICS_SIZE=$(du -ch "$WORK/data/events" "$WORK/data/analytics.checkpoint" 2>/dev/null | tail -n 1 | cut -f1 || true)
    stop_qredge
    QREDGE_LOG_PROBLEMS=$(cat "$WORK"/qredge-*.stderr | grep -cE ' (WARN|ERROR) ' || true)
}

# The build QREDGE_BEFORE on the same codes and fresh analytics: its req/s only, for the ratio.
run_qredge_before() {
    rm -rf "$WORK/data/events" "$WORK/data/analytics.checkpoint" "$WORK/data/spool"
    start_qredge before "" "$QREDGE_BEFORE"
    SERVER_PIDS=("$QPID")
    python3 "$WORK/helper.py" check "$EDGE_URL" "$WORK/codes.tsv" 200 "$USER_AGENT" >&2 \
        || die "qredge-before answers wrongly"
    measure qredge-before "$EDGE_URL"
    stop_qredge
}

# ---------------------------------------------------------------------------------------------
# Latency at half load (HALF_LOAD=1): qredge, then nginx-log, at half qredge's maximum rate.
# wrk sends as fast as it can, so its latencies are those of a saturated server; h2load --rps
# holds a rate. Each of CONNECTIONS connections sends RATE/CONNECTIONS requests/s for DURATION
# (after a discarded WARMUP), every request timed in h2load's --log-file; p50/p99 come from those.
# h2load sends one header set: every request comes from the same forwarded address.
# ---------------------------------------------------------------------------------------------
declare -A HALF_P50 HALF_P99 HALF_RPS
half_load_run() { # name url per-connection-rate
    local name=$1 url=$2 per=$3 out
    sed "s|^|${url%/}|; s|\t.*||" "$WORK/paths.txt" >"$WORK/half-uris-$name.txt"
    local args=(--h1 -c"$CONNECTIONS" --rps="$per" -H "User-Agent: $USER_AGENT"
        -H "X-Forwarded-For: 81.2.69.160" -i "$WORK/half-uris-$name.txt")
    timeout $(($(seconds_of "$WARMUP") + 60)) taskset -c "$CLIENT_CPU" h2load "${args[@]}" \
        -D "$(seconds_of "$WARMUP")" >/dev/null 2>&1 || die "h2load warm-up failed ($name)"
    rm -f "$WORK/half-$name.log"
    out=$(timeout $(($(seconds_of "$DURATION") + 60)) taskset -c "$CLIENT_CPU" h2load "${args[@]}" \
        -D "$(seconds_of "$DURATION")" --log-file="$WORK/half-$name.log" 2>&1) || die "h2load failed ($name)"
    grep -q ' 0 failed, 0 errored, 0 timeout' <<<"$out" || { echo "$out" >&2; die "h2load saw failures ($name)"; }
    read -r HALF_RPS[$name] HALF_P50[$name] HALF_P99[$name] < <(python3 - "$WORK/half-$name.log" <<'PY'
import sys
times, first, last = [], None, None
for line in open(sys.argv[1]):
    start_us, status, took_us = map(int, line.split()[:3])
    times.append(took_us)
    first = start_us if first is None else min(first, start_us)
    last = start_us if last is None else max(last, start_us)
times.sort()
seconds = max((last - first) / 1e6, 1e-9)
print("%.0f %d %d" % (len(times) / seconds, times[len(times) // 2], times[int(len(times) * 0.99)]))
PY
)
    log "$name at half load: ${HALF_RPS[$name]} req/s, p50 ${HALF_P50[$name]} us, p99 ${HALF_P99[$name]} us"
}

half_load() {
    local rate per
    rate=$(awk -v r="${RPS[qredge]}" 'BEGIN { printf "%d", r / 2 }')
    per=$((rate / CONNECTIONS))
    ((per > 0)) || die "no qredge rate to halve"
    HALF_RATE=$((per * CONNECTIONS))
    wait_quiet qredge-half
    start_qredge half
    half_load_run qredge "$EDGE_URL" "$per"
    stop_qredge
    wait_quiet nginx-log-half
    start_nginx log
    half_load_run nginx-log "$NGINX_URL" "$per"
    stop_pid "$NGINX_PID" QUIT
    forget_pid "$NGINX_PID"
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
main() {
    install_tools
    fetch_geoip
    build_qredge
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/qredge-loadtest.XXXXXX")
    log "work dir: $WORK"
    write_helpers

    python3 "$WORK/helper.py" gen "$CODES" "$WORK/codes.tsv"
    python3 "$WORK/helper.py" paths "$WORK/codes.tsv" "$PATHS" "$WORK/paths.txt"
    awk -F'\t' '{ printf "    /%s %s;\n", $1, $2 }' "$WORK/codes.tsv" >"$WORK/nginx-codes.map"

    CREATE_SUMMARY=""
    case $LOADER in
        api) populate_api ;;
        import) populate_import ;;
        *) die "LOADER must be api or import" ;;
    esac

    # The machine's speed drifts by ±15 % over minutes: each round measures the servers in turn,
    # and the ratios are taken within a round, then their median reported.
    ROUND_RPS=()
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
        ((ROUNDS == 1)) || log "round $ROUND of $ROUNDS"
        run_nginx nolog
        run_nginx log
        run_qredge
        [[ -n $QREDGE_BEFORE ]] && run_qredge_before
        ROUND_RPS+=("${RPS[nginx-nolog]} ${RPS[nginx-log]} ${RPS[qredge]} ${RPS[qredge-healthz]:-0} ${RPS[qredge-before]:-0}")
    done
    [[ $HALF_LOAD == 1 ]] && half_load

    # -------------------------------------------------------------------------------- report
    local n
    echo
    echo "=== qredge vs nginx: $CODES codes, wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP discarded)," \
        "$PATHS random paths round-robin, server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU ==="
    [[ -n $CREATE_SUMMARY ]] && echo "populate ($LOADER): $CREATE_SUMMARY"
    printf '%-15s %10s %10s %10s %12s %20s %10s %16s\n' server req/s p50 p99 non-2xx/3xx "socket errors" requests "cpu srv/wrk/oth"
    local rows=(nginx-nolog nginx-log qredge)
    [[ $EDGE_RUN == 1 ]] && rows+=(qredge-healthz)
    [[ -n $QREDGE_BEFORE ]] && rows+=(qredge-before)
    for n in "${rows[@]}"; do
        awk -v n="$n" -v rps="${RPS[$n]}" -v p50="${P50[$n]}" -v p99="${P99[$n]}" \
            -v st="${STATUS_ERR[$n]}" -v se="${SOCK_ERR[$n]}" -v rq="${REQS[$n]}" -v cpu="${CPUUSE[$n]}" \
            'BEGIN { printf "%-15s %10.0f %8.3fms %8.3fms %12s %20s %10s %16s\n", n, rps, p50 / 1000, p99 / 1000, st, se, rq, cpu }'
    done
    python3 - "${P99[qredge]}" "${P99[nginx-nolog]}" "${P99[nginx-log]}" "${ROUND_RPS[@]}" <<'PY'
import statistics, sys
q99, a99, b99 = map(float, sys.argv[1:4])
rounds = [list(map(float, r.split())) for r in sys.argv[4:]]
if len(rounds) > 1:
    print("rounds (req/s, in turn):      nginx-nolog  nginx-log     qredge    healthz   qredge/nolog  qredge/log")
    for i, (a, b, q, h, _) in enumerate(rounds, 1):
        print("  round %d                    %10.0f %10.0f %10.0f %10.0f %14.2f %11.2f" % (i, a, b, q, h, q / a, q / b))
med = lambda f: statistics.median(f(*r[:4]) for r in rounds)
what = "median of %d rounds' " % len(rounds) if len(rounds) > 1 else ""
print("ratio req/s  %sqredge/nginx-nolog = %.2f   qredge/nginx-log = %.2f"
      % (what, med(lambda a, b, q, h: q / a), med(lambda a, b, q, h: q / b)))
print("ratio p99    qredge/nginx-nolog = %.2f   qredge/nginx-log = %.2f   (last round)" % (q99 / a99, q99 / b99))
if all(r[3] for r in rounds):
    print("edge floor   %sqredge-healthz/nginx-nolog = %.2f   (qredge's redirects+counting reach %.0f%% of its /healthz rate)"
          % (what, med(lambda a, b, q, h: h / a), med(lambda a, b, q, h: q / h) * 100))
if all(r[4] for r in rounds):
    print("qredge/qredge-before per round (req/s): " + ", ".join("%.0f/%.0f = %.3f" % (r[2], r[4], r[2] / r[4]) for r in rounds))
    print("ratio req/s  %sqredge/qredge-before = %.3f" % (what, statistics.median(r[2] / r[4] for r in rounds)))
PY
    if [[ $HALF_LOAD == 1 ]]; then
        echo "half load    h2load --rps, $HALF_RATE req/s offered (half qredge's maximum): qredge p50 ${HALF_P50[qredge]} us p99 ${HALF_P99[qredge]} us;" \
            "nginx-log p50 ${HALF_P50[nginx-log]} us p99 ${HALF_P99[nginx-log]} us; p99 ratio $(awk -v a="${HALF_P99[qredge]}" -v b="${HALF_P99[nginx-log]}" 'BEGIN { printf "%.2f", a / b }')"
    fi
    echo "qredge memory: VmHWM $QREDGE_HWM after the load (VmRSS $QREDGE_RSS; $QREDGE_RSS_IDLE just after start;" \
        "VmHWM $QREDGE_HWM_END at the end); $QREDGE_THREADS threads after the load"
    if [[ $FULL_COUNT == 1 ]]; then
        local slack=$((2 * CONNECTIONS))
        echo "qredge counted $FULL_X of $FULL_Y requests wrk completed (warm-up + run; up to $slack more may have been in flight)," \
            "bot scans $FULL_BOTS $( ((FULL_X >= FULL_Y && FULL_X <= FULL_Y + slack)) && echo OK || echo MISMATCH)"
        echo "qredge analytics: caught up ${FULL_WAIT}s after the load stopped; $SPOOLED_RUN scans had overflowed" \
            "the in-memory queue into the disk spool; event log + checkpoint now $ANALYTICS_SIZE"
    fi
    echo "qredge counted $HOT_X of $HOT_Y on /hot (exact test: $HOT_REQUESTS GETs sent in ${HOT_TOOK}s, statuses $HOT_STATUSES)," \
        "settled after ${HOT_WAIT}s $( ((HOT_X == HOT_Y && HOT_Y == HOT_REQUESTS)) && echo OK || echo MISMATCH)"
    echo "qredge spool files left: $SPOOL_FILES; WARN/ERROR lines in qredge's logs: $QREDGE_LOG_PROBLEMS"
    local bad=0 nn tries=""
    for nn in "${rows[@]}"; do tries+=" $nn ${TRIES[$nn]}"; done
    [[ $tries == *" "[2-9]* ]] && echo "attempts (a run disturbed by other work is repeated; the last one counts):$tries"
    if ((${#NOISY_RUNS[@]})); then
        echo "NOTE: measured on a busy machine: ${NOISY_RUNS[*]}"
    fi
    for nn in nginx-nolog nginx-log qredge; do
        [[ ${STATUS_ERR[$nn]} == 0 ]] || { echo "NOTE: $nn had ${STATUS_ERR[$nn]} non-2xx/3xx responses"; bad=1; }
    done
    [[ $QREDGE_LOG_PROBLEMS == 0 ]] || { echo "NOTE: qredge logged:"; grep -hE ' (WARN|ERROR) ' "$WORK"/qredge-*.stderr | head -n 5; }
    return 0
}

main "$@"
