#!/usr/bin/env bash
# loadtest/cold_start.sh: how long a `qredge edge` takes to start on a Redis store holding
# CODES (1M) codes, and what that costs in memory; and how long `qredge import` takes to put
# them into Redis and into the embedded store.
#
# WHAT IT DOES
#   1. Starts a private redis-server and tansu broker (loadtest/services.sh) on free 127.0.0.1
#      ports, in a mktemp -d work dir, and creates the scans topic (the edge produces scans there).
#   2. Baseline: an edge started on the empty store (the fixed cost: Kafka admin call, producer,
#      listener).
#   3. Fills the store: `qredge api` on the same Redis bootstraps the team, then codes c0000001 ..
#      cNNNNNNN -> https://example.com/<displayId> are created, by FILL:
#        import (default): one CSV file imported with `qredge import` (timed);
#        api: POST /api/qrs-api over CREATE_CONNECTIONS keep-alive connections
#             (prod_helpers.py create).
#      The API then reads one code back (GET /api/qrs-api/{id}) and, with LIST_CHECK=1, lists
#      one page of the team's codes (timed). Then the API is stopped.
#   4b. With EMBEDDED_IMPORT=1 (default), after the cold starts: the same CSV imported into an
#      embedded store (bootstrapped by a first `qredge serve`), timed; then `qredge serve` on it
#      is timed to its ready line and SAMPLE codes are checked on its edge.
#   4. Redis's memory: INFO used_memory, and MEMORY USAGE of the big keys.
#   5. REPEAT times: spawns `qredge edge`, and measures from the spawn until it prints
#      "qredge ready edge=http://..." (prod_helpers.py launch); then the edge's VmRSS/VmHWM,
#      the route count it logged, and SAMPLE GETs on random codes: each must answer 302 with
#      Location https://example.com/<displayId> (and an unknown code 404). Stops the edge.
#
# USAGE
#   loadtest/cold_start.sh                       # 1M codes
#   CODES=100000 REPEAT=1 loadtest/cold_start.sh
#   QREDGE=/tmp/qredge-copy loadtest/cold_start.sh   # a given binary (default:
#                                                    # target/release/qredge, built if missing)
#   FILL=api loadtest/cold_start.sh                # fill through the API instead of qredge import
#   Knobs (defaults): CODES=1000000 REPEAT=3 SAMPLE=20 FILL=import EMBEDDED_IMPORT=1
#   CREATE_CONNECTIONS=16 PARTITIONS=6 LIST_CHECK=1
#   FILL_TIMEOUT=1800 READY_TIMEOUT=300 QUIET_WAIT=600 QUIET_MAX=15 DISTURB_MAX=50 KEEP_WORKDIR=0
#   QREDGE TANSU.
#   Before each measured start the script waits (QUIET_WAIT s) for the machine to be idle, and
#   reports the CPU the edge, Redis and everything else used during the start.
#   Needs redis-server/redis-cli, python3 and tansu (scripts/test.sh installs it).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=services.sh
source "$REPO/loadtest/services.sh"

CODES=${CODES:-1000000}
REPEAT=${REPEAT:-3}
SAMPLE=${SAMPLE:-20}
FILL=${FILL:-import}                    # import: `qredge import` of a CSV; api: POST /api/qrs-api
EMBEDDED_IMPORT=${EMBEDDED_IMPORT:-1}   # also time an import into the embedded store
CREATE_CONNECTIONS=${CREATE_CONNECTIONS:-16}
PARTITIONS=${PARTITIONS:-6}
FILL_TIMEOUT=${FILL_TIMEOUT:-1800}
READY_TIMEOUT=${READY_TIMEOUT:-300}
LIST_CHECK=${LIST_CHECK:-1}   # time one page of GET /api/qrs-api on the full store
# % of a core everything but the edge and Redis may take during a start before it is flagged
# (tansu and this script's polling take ~20 % at rest)
DISTURB_MAX=${DISTURB_MAX:-50}
HELPERS=$REPO/loadtest/prod_helpers.py
PREFIX='qredge:{s}:'   # the default redis.key_prefix

# Starts an edge, waits for its ready line; sets EDGE_PID, EDGE_SECONDS, EDGE_URL and EDGE_CPU:
# the CPU used from the spawn to the ready line, in % of one core: the edge, Redis, and
# everything else on the machine but the launcher (tansu and this script's polling included;
# high = disturbed by other work).
start_edge() { # name
    local name=$1 ready=$WORK/$1.ready i b0 b1 t0 t1
    rm -f "$ready"
    mkdir -p "$WORK/$name"
    local r0
    b0=$(all_busy_ticks); r0=$(proc_ticks "$REDIS_PID"); t0=$(date +%s%N)
    QREDGE_DATA_DIR=$WORK/$name RUST_LOG=${RUST_LOG:-info} python3 "$HELPERS" launch "$ready" \
        "$WORK/$name.stdout" "$WORK/$name.stderr" -- "$QREDGE" edge --config "$WORK/qredge.toml" &
    local launcher=$!
    PIDS+=("$launcher")
    for ((i = 0; i < READY_TIMEOUT * 100; i++)); do
        [[ -s $ready ]] && break
        kill -0 "$launcher" 2>/dev/null || break
        sleep 0.01
    done
    [[ -s $ready ]] || { tail -n 20 "$WORK/$name.stderr" >&2; die "edge $name not ready within ${READY_TIMEOUT}s"; }
    b1=$(all_busy_ticks); t1=$(date +%s%N)
    read -r EDGE_PID EDGE_SECONDS EDGE_SPAWNED <"$ready"
    local e r s l
    e=$(proc_ticks "$EDGE_PID"); r=$(($(proc_ticks "$REDIS_PID") - r0)); l=$(proc_ticks "$launcher")
    s=$(awk -v t=$((t1 - t0)) 'BEGIN { print t / 1e9 }')
    PIDS+=("$EDGE_PID")
    EDGE_LAUNCHER=$launcher
    local o
    o=$(ticks_pct $((b1 - b0 - e - r - l < 0 ? 0 : b1 - b0 - e - r - l)) "$s")
    EDGE_CPU="$(ticks_pct "$e" "$s")%/$(ticks_pct "$r" "$s")%/$o%"
    # (a start under a second is too short for 10 ms CPU ticks to say much)
    if ((o > DISTURB_MAX)) && [[ ${s%.*} -ge 1 ]]; then
        NOISY+=("$name (everything else took $o% of a core)")
    fi
    EDGE_URL=$(grep -o 'edge=http://[^ ]*' "$WORK/$name.stdout" | cut -d= -f2)
    sleep 0.2   # the "qredge is serving" log line comes just before the ready line
    read -r EDGE_LOADED EDGE_SERVING < <(python3 "$HELPERS" phases "$WORK/$name.stderr" "$EDGE_SPAWNED")
}

stop_edge() {
    stop_pid "$EDGE_PID" TERM
    forget_pid "$EDGE_PID"
    stop_pid "$EDGE_LAUNCHER"
    forget_pid "$EDGE_LAUNCHER"
}

# The CSV of the fill: c0000001,https://example.com/c0000001,WEB ... (prod_helpers' display_id).
write_csv() { # file
    awk -v n="$CODES" 'BEGIN {
        w = length(n "") < 7 ? 7 : length(n "")
        print "displayId,url,type"
        for (i = 1; i <= n; i++) { id = sprintf("c%0*d", w, i); print id ",https://example.com/" id ",WEB" }
    }' >"$1"
}

# Runs `qredge import` (data dir IMPORT_DATA_DIR), timed; writes its summary line, the time and
# the rate to OUT. Any refused row fails it.
timed_import() { # csv team out [qredge import args...]
    local csv=$1 team=$2 out=$3 t0 t1 rc=0
    shift 3
    mkdir -p "$IMPORT_DATA_DIR"
    t0=$(date +%s%N)
    QREDGE_DATA_DIR=$IMPORT_DATA_DIR RUST_LOG=${RUST_LOG:-info} \
        timeout "$FILL_TIMEOUT" "$QREDGE" import --team "$team" "$@" "$csv" \
        >"$out.report" 2>"$out.stderr" || rc=$?
    t1=$(date +%s%N)
    ((rc == 0)) || { tail -n 5 "$out.report" "$out.stderr" >&2; return 1; }
    awk -v t=$((t1 - t0)) -v n="$CODES" -v s="$(tail -n 1 "$out.report")" \
        'BEGIN { printf "%s: %.1f s (%.0f codes/s)\n", s, t / 1e9, n / (t / 1e9) }' >"$out"
}

# Bootstraps an embedded store with a first `qredge serve`, imports the CSV into it (timed), then
# times `qredge serve` to its ready line on the full store and checks SAMPLE codes on its edge.
embedded_import() {
    local dir=$WORK/embedded pid team t0 t1 checked edge
    # (spawn_qredge gives each run the data dir $WORK/NAME: both runs are called "embedded")
    printf '[edge]\nlisten = "127.0.0.1:0"\n[api]\nlisten = "127.0.0.1:0"\n[api.requests_per_minute]\nbusiness_plus = 1000000000\n[api.codes_per_team]\nbusiness_plus = 0\n' >"$WORK/embedded.toml"
    spawn_qredge serve embedded "$WORK/embedded.toml"
    pid=$SPAWNED_PID
    wait_ready_line embedded "$pid" 60
    stop_pid "$pid"
    forget_pid "$pid"
    team=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["teamId"])' "$dir/bootstrap.json")
    wait_quiet "the embedded import"
    log "importing $CODES codes into the embedded store"
    IMPORT_DATA_DIR=$dir timed_import "$WORK/codes.csv" "$team" "$WORK/embedded-import.out" \
        --config "$WORK/embedded.toml" || die "the import into the embedded store failed"
    embedded_summary="$(cat "$WORK/embedded-import.out"); store.redb $(mb "$(stat -c %s "$dir/store.redb")")"
    log "embedded: $embedded_summary"
    t0=$(date +%s%N)
    spawn_qredge serve embedded "$WORK/embedded.toml"
    pid=$SPAWNED_PID
    wait_ready_line embedded "$pid" "$READY_TIMEOUT"
    t1=$(date +%s%N)
    edge=$(grep -o 'edge=http://[^ ]*' "$WORK/embedded.stdout" | cut -d= -f2)
    checked=$(python3 "$HELPERS" check "$edge" "$CODES" "$SAMPLE") \
        || { echo "$checked" >&2; die "serve on the imported store answers wrongly"; }
    serve_summary=$(awk -v t=$((t1 - t0)) -v r="$(vm_kb "$pid" VmRSS)" -v c="$checked" \
        'BEGIN { printf "qredge serve on it: ready after %.2f s (spawn to ready line), VmRSS %.0f MB; %s", t / 1e9, r / 1024, c }')
    log "embedded: $serve_summary"
    stop_pid "$pid"
    forget_pid "$pid"
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }

main() {
    resolve_qredge
    make_workdir cold-start
    local uptime_start
    uptime_start=$(uptime)
    log "uptime: $uptime_start"
    start_redis
    start_tansu
    create_topic qredge.scans "$PARTITIONS"

    local edge_port api_port
    read -r edge_port api_port <<<"$(free_ports 2)"
    cat >"$WORK/qredge.toml" <<EOF
[edge]
listen = "127.0.0.1:$edge_port"
[api]
listen = "127.0.0.1:$api_port"
[api.requests_per_minute]
business_plus = 1000000000
[api.codes_per_team]
business_plus = 0
[redis]
url = "$REDIS_URL"
[kafka]
brokers = "$KAFKA_BROKERS"
topic = "qredge.scans"
partitions = $PARTITIONS
EOF

    # ---- baseline: the empty store
    wait_quiet "the baseline start"
    start_edge edge-empty
    local base_s=$EDGE_SECONDS base_rss
    base_rss=$(vm_kb "$EDGE_PID" VmRSS)
    log "edge on the empty store: ready after ${base_s}s, VmRSS $base_rss kB"
    stop_edge

    # ---- fill through the API
    spawn_qredge api api "$WORK/qredge.toml"
    local api_pid=$SPAWNED_PID
    wait_ready_line api "$api_pid" 60
    [[ -s $WORK/api/bootstrap.json ]] || die "the API wrote no bootstrap.json"
    local team
    team=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["teamId"])' "$WORK/api/bootstrap.json")
    if [[ $FILL == import ]]; then
        write_csv "$WORK/codes.csv"
        wait_quiet "the import into Redis"
        log "importing $CODES codes with qredge import"
        IMPORT_DATA_DIR=$WORK/import timed_import "$WORK/codes.csv" "$team" "$WORK/create.out" \
            --config "$WORK/qredge.toml" || die "the import into Redis failed"
    else
        log "creating $CODES codes through POST /api/qrs-api ($CREATE_CONNECTIONS connections)"
        timeout "$FILL_TIMEOUT" python3 "$HELPERS" create "http://127.0.0.1:$api_port/" \
            "$WORK/api/bootstrap.json" "$CODES" "$CREATE_CONNECTIONS" >"$WORK/create.out" 2>&1 &
        local creator=$! last=0 n
        PIDS+=("$creator")
        while kill -0 "$creator" 2>/dev/null; do
            sleep 1
            if ((SECONDS - last >= 30)); then
                last=$SECONDS
                n=$(rcli hlen "${PREFIX}routes")
                log "  $n codes so far"
            fi
        done
        wait "$creator" || { cat "$WORK/create.out" >&2; die "creating codes failed"; }
        forget_pid "$creator"
    fi
    local fill_summary
    fill_summary=$(cat "$WORK/create.out")
    log "$fill_summary"
    # The API reads one of them back, and lists the team's codes (one page) on the full store.
    local b=$WORK/api/bootstrap.json hdr=() some_id got
    hdr=(-H "x-request-team-id: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["teamId"])' "$b")"
         -H "x-request-client-id: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clientId"])' "$b")"
         -H "x-request-client-secret: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clientSecret"])' "$b")")
    some_id=$(rcli hget "${PREFIX}display" "$(python3 -c 'import sys; print("c%0*d" % (max(7, len(sys.argv[1])), int(sys.argv[1]) // 2))' "$CODES")")
    got=$(curl -s "${hdr[@]}" "http://127.0.0.1:$api_port/api/qrs-api/$some_id")
    [[ $got == *"\"id\":\"$some_id\""* ]] || die "GET /api/qrs-api/$some_id answered: ${got:0:300}"
    API_LIST=""
    if [[ $LIST_CHECK == 1 ]]; then
        API_LIST=$(curl -s -o "$WORK/list.json" -w '%{http_code} in %{time_total} s' --max-time 600 "${hdr[@]}" \
            "http://127.0.0.1:$api_port/api/qrs-api?limit=10" || echo "no answer within 600 s")
        API_LIST="GET /api/qrs-api?limit=10 (one page of the team's $CODES codes) answered $API_LIST, API VmHWM $(vm_kb "$api_pid" VmHWM) kB"
        log "$API_LIST"
    fi
    stop_pid "$api_pid"
    forget_pid "$api_pid"
    local routes changes display
    routes=$(rcli hlen "${PREFIX}routes")
    display=$(rcli hlen "${PREFIX}display")
    changes=$(rcli xlen "${PREFIX}changes")
    ((routes == CODES)) || die "the routes hash holds $routes entries, expected $CODES"

    # ---- Redis memory
    local used used_ds key_mem="" k
    used=$(rcli info memory | awk -F: '$1 == "used_memory" { print $2 + 0 }')
    used_ds=$(rcli info memory | awk -F: '$1 == "used_memory_dataset" { print $2 + 0 }')
    for k in routes display changes "team-qrs:$team"; do
        key_mem+=" ${k%%:*} $(mb "$(rcli memory usage "$PREFIX$k" samples 0)");"
    done
    local qr_sample
    qr_sample=$({ rcli --scan --pattern "${PREFIX}qr:*" || true; } | head -n 200 \
        | while read -r key; do rcli memory usage "$key"; done | awk '{ s += $1 } END { printf "%.0f", s / NR }')
    log "redis: used_memory $(mb "$used") (dataset $(mb "$used_ds")), $(rcli dbsize) keys;$key_mem qr:* records ~$qr_sample B each"

    # ---- cold starts
    local results=() i rss hwm threads loaded checked
    for ((i = 1; i <= REPEAT; i++)); do
        wait_quiet "cold start $i"
        start_edge "edge-$i"
        rss=$(vm_kb "$EDGE_PID" VmRSS)
        hwm=$(vm_kb "$EDGE_PID" VmHWM)
        threads=$(ls "/proc/$EDGE_PID/task" | wc -l)
        loaded=$(grep -o 'routes=[0-9]*' "$WORK/edge-$i.stderr" | head -n 1 | cut -d= -f2)
        [[ $loaded == "$CODES" ]] || die "the edge logged routes=$loaded, expected $CODES"
        checked=$(python3 "$HELPERS" check "$EDGE_URL" "$CODES" "$SAMPLE") \
            || { echo "$checked" >&2; die "the edge answers wrongly"; }
        log "cold start $i: ready after ${EDGE_SECONDS}s (routes loaded and table built at ${EDGE_LOADED}s after the spawn, serving at ${EDGE_SERVING}s; CPU edge/redis/others $EDGE_CPU of a core); VmRSS $rss kB, VmHWM $hwm kB, $threads threads; $checked"
        results+=("$EDGE_SECONDS $EDGE_LOADED $rss $hwm $EDGE_CPU")
        stop_edge
    done

    # ---- the same codes imported into the embedded store, then served by `qredge serve`
    local embedded_summary="" serve_summary=""
    if [[ $EMBEDDED_IMPORT == 1 ]]; then
        [[ -s $WORK/codes.csv ]] || write_csv "$WORK/codes.csv"
        embedded_import
    fi

    echo
    echo "=== qredge edge cold start: $CODES codes in Redis (FILL=$FILL), $(nproc) CPUs ==="
    echo "binary: $QREDGE"
    echo "uptime at start: $uptime_start"
    echo "fill: $fill_summary"
    echo "store: routes $routes, display $display, change stream $changes entries"
    if [[ -n $embedded_summary ]]; then
        echo "embedded import: $embedded_summary"
        echo "embedded serve: $serve_summary"
    fi
    [[ -n $API_LIST ]] && echo "api: $API_LIST"
    echo "redis used_memory: $(mb "$used") (dataset $(mb "$used_ds")); per key:$key_mem qr:* records ~$qr_sample B each"
    echo "edge on the empty store: ready after ${base_s}s, VmRSS $base_rss kB"
    printf '%-8s %10s %14s %12s %12s %18s\n' attempt "ready (s)" "table built (s)" "VmRSS (MB)" "VmHWM (MB)" "CPU edge/redis/oth"
    for ((i = 0; i < ${#results[@]}; i++)); do
        read -r s l rss hwm busy <<<"${results[$i]}"
        awk -v i=$((i + 1)) -v s="$s" -v l="$l" -v r="$rss" -v h="$hwm" -v b="$busy" \
            'BEGIN { printf "%-8s %10.2f %15.2f %12.1f %12.1f %18s\n", i, s, l, r / 1024, h / 1024, b }'
    done
    echo "ready = spawn to the \"qredge ready\" line; table built = spawn to the edge's \"route table loaded\" log"
    echo "(the rest: the Kafka topic check and producer, then the listener)"
    echo "CPU: from the spawn to the ready line, in % of one core: the edge, Redis, everything else"
    ((${#NOISY[@]})) && printf "NOTE: measured on a busy machine: %s\n" "$(IFS=";"; echo "${NOISY[*]}")"
    echo "each: $SAMPLE random codes answered 302 with the right Location, an unknown code 404"
    echo "uptime at end: $(uptime)"
}

main "$@"
