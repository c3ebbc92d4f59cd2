#!/usr/bin/env bash
# loadtest/list.sh: how long GET /api/qrs-api takes on a team of CODES (1M) codes, on the
# embedded store and on Redis; and, with QREDGE_BEFORE, the same queries on another binary in
# the same run (the machine drifts: compare within a run, as a ratio).
#
# WHAT IT DOES, per store (STORES="embedded redis"):
#   1. A first `qredge api` bootstraps the store (team and credential), then `qredge import` loads
#      CODES codes c0000001.. with names "Code <n mod 1000> <n>" (timed).
#   2. For each binary (QREDGE, then QREDGE_BEFORE if set): `qredge api` on that store, each query
#      below sent REPS times over loopback with curl; the median of its time_total is printed, with
#      the page's totalCount (both binaries must agree).
#
# USAGE
#   loadtest/list.sh                                   # 1M codes, both stores
#   CODES=100000 STORES=embedded loadtest/list.sh
#   QREDGE_BEFORE=/tmp/qredge-old loadtest/list.sh     # compare with another build
#   Knobs (defaults): CODES=1000000 REPS=5 STORES="embedded redis" QREDGE QREDGE_BEFORE
#   CURL_TIMEOUT=120 KEEP_WORKDIR=0. Needs redis-server/redis-cli, curl, python3.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=services.sh
source "$REPO/loadtest/services.sh"

CODES=${CODES:-1000000}
REPS=${REPS:-5}
STORES=${STORES:-embedded redis}
QREDGE_BEFORE=${QREDGE_BEFORE:-}
CURL_TIMEOUT=${CURL_TIMEOUT:-120}

# Label and query string of each measured request (or a path under /api/qrs-api, from '/').
QUERIES=(
    "first page (updatedAt desc, 10)|"
    "by name, 100|sortBy=name&sortOrder=asc&limit=100"
    "by createdAt, middle page (offset CODES/2)|sortBy=createdAt&limit=100&page=$((CODES / 200))"
    "by name, last page|sortBy=name&sortOrder=asc&limit=100&page=$((CODES / 100))"
    "search displayId (1,000 hits)|search=c0012&limit=10"
    "search name (1,000 hits), by updatedAt|search=code%20999%20&limit=10"
    "search, no hit|search=nothing-like-it"
    "updated-after, nothing new (a sync poll)|/updated-after?fromTime=4102444800000"
)

make_workdir list
resolve_qredge
command -v curl >/dev/null || die "curl is missing"

log "writing $CODES codes to codes.csv"
python3 - "$CODES" "$WORK/codes.csv" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("displayId,url,type,name\n")
    for i in range(1, n + 1):
        f.write(f"c{i:07d},https://example.com/c{i:07d},WEB,Code {i % 1000} {i}\n")
EOF

api_url() { # name: the api= URL of its ready line
    sed -n 's/^qredge ready.* api=\([^ ]*\).*/\1/p' "$WORK/$1.stdout" | head -n 1
}

# Starts `qredge api` (role serve on the embedded store: one process holds its file) on store
# $1 (data dir $WORK/$1) with binary $2; sets API and APID.
start_api() { # store binary
    local store=$1 binary=$2 role=api
    [[ $store == embedded ]] && role=serve
    local saved=$QREDGE
    QREDGE=$binary
    spawn_qredge "$role" "$store" "$WORK/$store.toml"
    QREDGE=$saved
    APID=$SPAWNED_PID
    wait_ready_line "$store" "$APID" 600
    API=$(api_url "$store")
    [[ -n $API ]] || die "no api= in the ready line of $store"
}

measure() { # store label-of-binary bootstrap.json
    local store=$1 which=$2 boot=$3 entry label query i t
    local h=(-H "x-request-team-id: $(jq_field teamId "$boot")"
        -H "x-request-client-id: $(jq_field clientId "$boot")"
        -H "x-request-client-secret: $(jq_field clientSecret "$boot")")
    for entry in "${QUERIES[@]}"; do
        label=${entry%%|*}
        query=${entry#*|}
        [[ $query == /* ]] || query="?$query"
        local times=() total=""
        for ((i = 0; i < REPS; i++)); do
            t=$(curl -sS -o "$WORK/page.json" -w '%{time_total}' --max-time "$CURL_TIMEOUT" \
                "${h[@]}" "${API}api/qrs-api$query") || die "$label: curl failed"
            total=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); data=d.get("data"); print(("ERROR " + d.get("message", "")) if not d.get("success") else len(data) if isinstance(data, list) else data["totalCount"])' "$WORK/page.json")
            times+=("$t")
        done
        median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] * 1000 }')
        printf '%s\t%s\t%s\t%s\t%s\n' "$store" "$which" "$label" "$median" "$total" | tee -a "$WORK/results.tsv"
    done
}

jq_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[2]))[sys.argv[1]])' "$1" "$2"; }

for store in $STORES; do
    case $store in
        embedded)
            printf '[api.requests_per_minute]\nbusiness_plus = 1000000\n' >"$WORK/embedded.toml"
            ;;
        redis)
            [[ -n $REDIS_URL ]] || start_redis
            printf '[redis]\nurl = "%s"\nkey_prefix = "list:"\n[api.requests_per_minute]\nbusiness_plus = 1000000\n' \
                "$REDIS_URL" >"$WORK/redis.toml"
            ;;
        *) die "STORES: embedded or redis, not $store" ;;
    esac
    start_api "$store" "$QREDGE"
    stop_pid "$APID"
    forget_pid "$APID"
    boot=$WORK/$store/bootstrap.json
    team=$(jq_field teamId "$boot")
    log "$store: importing $CODES codes"
    t0=$(date +%s.%N)
    QREDGE_DATA_DIR=$WORK/$store "$QREDGE" import --config "$WORK/$store.toml" --team "$team" "$WORK/codes.csv" \
        >"$WORK/$store-import.out" 2>"$WORK/$store-import.err" || { tail "$WORK/$store-import.err" >&2; die "import failed"; }
    t1=$(date +%s.%N)
    log "$store: $(tail -n 1 "$WORK/$store-import.out") in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
    for which in after before; do
        binary=$QREDGE
        if [[ $which == before ]]; then
            [[ -n $QREDGE_BEFORE ]] || continue
            binary=$QREDGE_BEFORE
        fi
        start_api "$store" "$binary"
        measure "$store" "$which" "$boot"
        stop_pid "$APID"
        forget_pid "$APID"
    done
done

echo
echo "median ms of $REPS requests, $CODES codes in one team"
python3 - "$WORK/results.tsv" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
seen = {}
for store, which, label, ms, total in rows:
    seen.setdefault((store, label), {})[which] = (float(ms), total)
print(f"{'store':9} {'query':48} {'after ms':>9} {'before ms':>10} {'before/after':>12}  totalCount")
for (store, label), m in seen.items():
    after = m.get("after", (None, ""))
    before = m.get("before")
    ratio = f"{before[0] / after[0]:.2f}" if before and after[0] else ""
    agree = "" if not before or before[1] == after[1] else f"  (before: {before[1]})"
    print(f"{store:9} {label:48} {after[0]:9.1f} {before[0] if before else '':>10} {ratio:>12}  {after[1]}{agree}")
EOF
