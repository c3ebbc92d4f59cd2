#!/usr/bin/env bash
# loadtest/list.sh: how long GET /api/qrs-api and the dashboard's codes page take on a team of
# CODES (1M) codes, unfiltered and filtered by type and tag, on the embedded store and on Redis;
# and, with QREDGE_BEFORE, the same queries on another binary in the same run (the machine
# drifts: compare within a run, as a ratio).
#
# WHAT IT DOES, per store (STORES="embedded redis"):
#   1. A first `qredge api` bootstraps the store (team and credential), then `qredge import` loads
#      CODES codes c0000001.. with names "Code <n mod 1000> <n>" (timed): every 12th a SHORT_LINK
#      (the others WEB), every 1000th (n mod 1000 = 12) tagged "rare".
#   2. `qredge sign-in-link --email owner@localhost` makes a one-time link to the dashboard.
#   3. For each binary (QREDGE, then QREDGE_BEFORE if set): `qredge api` on that store, each query
#      below sent REPS times over loopback with curl; the median of its time_total is printed, with
#      the page's totalCount (both binaries must agree). Then the dashboard: signed in once with
#      the link (curl keeps the session cookie), each PAGES entry GET REPS times, with the count
#      the page shows. (A binary without the dashboard or the filters shows errors there.)
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
    "type (1 in 12), by updatedAt|qrType=SHORT_LINK&limit=10"
    "type (1 in 12), middle page by updatedAt|qrType=SHORT_LINK&limit=100&page=$((CODES / 2400))"
    "type (1 in 12), by createdAt|qrType=SHORT_LINK&sortBy=createdAt&limit=10"
    "type (1 in 12), by name|qrType=SHORT_LINK&sortBy=name&sortOrder=asc&limit=10"
    "type (1 in 12) and a search none of them matches|qrType=SHORT_LINK&search=code%20999%20&limit=10"
    "type (11 in 12) and a search (1,000 hits)|qrType=WEB&search=code%20999%20&limit=10"
    "tag (1 in 1000), by updatedAt|tag=rare&limit=10"
    "tag (1 in 1000), by name|tag=rare&sortBy=name&sortOrder=asc&limit=10"
    "type and tag|qrType=SHORT_LINK&tag=rare&limit=10"
)
# Label and path of each measured dashboard page (signed in).
PAGES=(
    "dashboard: codes, first page|codes"
    "dashboard: codes, type (1 in 12)|codes?qrType=SHORT_LINK"
    "dashboard: codes, tag (1 in 1000)|codes?tag=rare"
    "dashboard: codes, type by name|codes?qrType=SHORT_LINK&sortBy=name&sortOrder=asc"
    "dashboard: codes, type and tag, page 5|codes?qrType=SHORT_LINK&tag=rare&page=5"
    "dashboard: codes, a search (1,000 hits)|codes?search=code%20999%20"
)

make_workdir list
resolve_qredge
command -v curl >/dev/null || die "curl is missing"

log "writing $CODES codes to codes.csv"
python3 - "$CODES" "$WORK/codes.csv" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("displayId,url,type,name,tags\n")
    for i in range(1, n + 1):
        kind = "SHORT_LINK" if i % 12 == 0 else "WEB"
        tags = "rare" if i % 1000 == 12 else ""
        f.write(f"c{i:07d},https://example.com/c{i:07d},{kind},Code {i % 1000} {i},{tags}\n")
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

# Times REPS GETs of URL with curl's further arguments, each answer saved to FILE, and records
# the median (ms) with what COUNT (a command given FILE) says the answer holds.
time_get() { # store label-of-binary label url file count [curl args...]
    local store=$1 which=$2 label=$3 url=$4 file=$5 count=$6 i t median shown=""
    shift 6
    local times=()
    for ((i = 0; i < REPS; i++)); do
        t=$(curl -sS -o "$file" -w '%{time_total}' --max-time "$CURL_TIMEOUT" "$@" "$url") ||
            die "$label: curl failed"
        shown=$("$count" "$file")
        times+=("$t")
    done
    median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] * 1000 }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$store" "$which" "$label" "$median" "$shown" | tee -a "$WORK/results.tsv"
}

# The totalCount of an API answer (a list's length for the updated-after feed), or its error.
api_count() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); data=d.get("data"); print(("ERROR " + d.get("message", "")) if not d.get("success") else len(data) if isinstance(data, list) else data["totalCount"])' "$1"
}

# The count a dashboard page shows ("N codes"), or what it shows instead.
page_count() {
    python3 -c 'import re,sys; t=open(sys.argv[1]).read(); m=re.search(r"<caption[^>]*>(\d+) codes", t); print(m.group(1) if m else "ERROR " + (re.sub(r"<[^>]+>", " ", t)[:60]).strip())' "$1"
}

measure() { # store label-of-binary bootstrap.json
    local store=$1 which=$2 boot=$3 entry query
    local h=(-H "x-request-team-id: $(jq_field teamId "$boot")"
        -H "x-request-client-id: $(jq_field clientId "$boot")"
        -H "x-request-client-secret: $(jq_field clientSecret "$boot")")
    for entry in "${QUERIES[@]}"; do
        query=${entry#*|}
        [[ $query == /* ]] || query="?$query"
        time_get "$store" "$which" "${entry%%|*}" "${API}api/qrs-api$query" "$WORK/page.json" \
            api_count "${h[@]}"
    done
}

# Signs in to the dashboard with the one-time link $1 (made for another address: its token is
# what counts), keeping the session in the cookie jar $WORK/cookies.
dashboard_sign_in() { # link
    local token=${1#*token=} csrf
    rm -f "$WORK/cookies"
    curl -sS -c "$WORK/cookies" -b "$WORK/cookies" -o "$WORK/sign-in.html" \
        "${API}sign-in/link?token=$token" || die "the sign-in page failed"
    csrf=$(python3 -c 'import re,sys; print(re.search(r"name=\"csrf\" value=\"([^\"]*)\"", open(sys.argv[1]).read()).group(1))' "$WORK/sign-in.html") ||
        die "no csrf field on the sign-in page"
    curl -sS -c "$WORK/cookies" -b "$WORK/cookies" -o /dev/null \
        --data-urlencode "csrf=$csrf" --data-urlencode "token=$token" "${API}sign-in/link" ||
        die "signing in failed"
}

measure_pages() { # store label-of-binary
    local entry
    for entry in "${PAGES[@]}"; do
        time_get "$1" "$2" "${entry%%|*}" "${API}${entry#*|}" "$WORK/page.html" page_count \
            -b "$WORK/cookies"
    done
}

# What Redis holds for the team's search text and its name index, and in all, in bytes.
redis_memory() { # team
    local cli=(redis-cli -u "$REDIS_URL") text names used
    text=$("${cli[@]}" --scan --pattern "list:list-text:$1:*" | awk '{ print "MEMORY USAGE " $0 }' |
        "${cli[@]}" | awk '{ s += $1 } END { print s }')
    names=$("${cli[@]}" memory usage "list:list-name:$1" samples 0)
    used=$("${cli[@]}" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
    echo "search text $text B, name index $names B, used_memory $used B"
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
    if [[ $store == redis ]]; then log "redis: $(redis_memory "$team")"; fi
    for which in after before; do
        binary=$QREDGE
        if [[ $which == before ]]; then
            [[ -n $QREDGE_BEFORE ]] || continue
            binary=$QREDGE_BEFORE
        fi
        # A one-time link per binary, made while no process holds the embedded store.
        link=$(QREDGE_DATA_DIR=$WORK/$store "$QREDGE" sign-in-link --config "$WORK/$store.toml" \
            --email owner@localhost) || die "sign-in-link failed"
        start_api "$store" "$binary"
        measure "$store" "$which" "$boot"
        dashboard_sign_in "$link"
        measure_pages "$store" "$which"
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
