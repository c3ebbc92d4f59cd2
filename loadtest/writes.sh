#!/usr/bin/env bash
# loadtest/writes.sh: the API's write path over loopback: how fast codes are created and updated,
# and how long an update takes to reach the edge; with QREDGE_BEFORE, the same on another binary
# in the same round (the machine drifts: compare within a round, as a ratio).
#
# WHAT IT DOES, per round and per store (STORES="embedded redis"), for each binary in turn:
#   1. `qredge serve` on a fresh data dir (embedded), or on a fresh key prefix of a private
#      redis-server (redis: redis.url and a key prefix of its own, the API, edge, pipeline and aggregator in one
#      process), pinned to CPU $SERVER_CPU; the client runs on CPU $CLIENT_CPU.
#   2. creates: CREATES codes through POST /api/qrs-api over WORKERS keep-alive connections.
#   3. updates: UPDATES target changes (PUT /api/qrs-api/{id}) spread over those codes, same
#      connections.
#   4. propagation: PROPAGATIONS updates one at a time; after each, the edge is asked (HEAD over
#      one keep-alive connection, as fast as it answers) until it serves the new target: the time
#      from the API's answer to that first edge answer, as p50 / p99 / max.
#
# HOW TO READ THE OUTPUT
#   A line per measurement, binary and round, then per store the ratio qredge/qredge-before of
#   each figure per round (rates: > 1 is faster; propagation: < 1 is sooner). Every request must
#   succeed and every update must be served within 10 s, or the script fails.
#
# USAGE
#   loadtest/writes.sh
#   QREDGE_BEFORE=/tmp/qredge-main ROUNDS=3 loadtest/writes.sh
#   Knobs (defaults): CREATES=20000 UPDATES=20000 PROPAGATIONS=500 WORKERS=16 ROUNDS=1
#   STORES="embedded redis" SERVER_CPU=0 CLIENT_CPU=1 READY_TIMEOUT=120 KEEP_WORKDIR=0 QREDGE
#   QREDGE_BEFORE. Needs python3, redis-server and redis-cli (for STORES=redis).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=services.sh
source "$REPO/loadtest/services.sh"

CREATES=${CREATES:-20000}
UPDATES=${UPDATES:-20000}
PROPAGATIONS=${PROPAGATIONS:-500}
WORKERS=${WORKERS:-16}
ROUNDS=${ROUNDS:-1}
STORES=${STORES:-embedded redis}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
READY_TIMEOUT=${READY_TIMEOUT:-120}
QREDGE_BEFORE=${QREDGE_BEFORE:-}
CLIENT=$REPO/loadtest/writes.py

# Starts `qredge serve` (binary, store, name) pinned to SERVER_CPU; sets SPAWNED_PID, EDGE, API.
start_serve() {
    local binary=$1 store=$2 name=$3 ports
    ports=$(free_ports 2)
    EDGE=http://127.0.0.1:${ports% *}
    API=http://127.0.0.1:${ports#* }
    mkdir -p "$WORK/$name"
    # The per-team rate limit and code limit are lifted: the client writes as fast as it can.
    printf '[api.requests_per_minute]\nbusiness_plus = 1000000000\n[api.codes_per_team]\nbusiness_plus = 0\n' \
        >"$WORK/$name.toml"
    if [[ $store == redis ]]; then
        printf '[redis]\nurl = "%s"\nkey_prefix = "%s:"\n' "$REDIS_URL" "$name" >>"$WORK/$name.toml"
    fi
    env QREDGE_DATA_DIR="$WORK/$name" QREDGE_EDGE_LISTEN="${EDGE#http://}" \
        QREDGE_API_LISTEN="${API#http://}" taskset -c "$SERVER_CPU" "$binary" serve \
        --config "$WORK/$name.toml" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" </dev/null &
    SPAWNED_PID=$!
    PIDS+=("$SPAWNED_PID")
    wait_ready_line "$name" "$SPAWNED_PID" "$READY_TIMEOUT"
}

# One binary on one store: prints "<label> <measurement line>" for each measurement.
measure() { # label binary store round
    local label=$1 binary=$2 store=$3 name="$3-$1-r$4" client
    start_serve "$binary" "$store" "$name"
    local bootstrap=$WORK/$name/bootstrap.json
    [[ -s $bootstrap ]] || die "no bootstrap.json for $name"
    client=(taskset -c "$CLIENT_CPU" python3 "$CLIENT")
    "${client[@]}" creates "$API" "$bootstrap" "$CREATES" "$WORKERS" "$WORK/$name.ids" | sed "s/^/$label /"
    "${client[@]}" updates "$API" "$bootstrap" "$WORK/$name.ids" "$UPDATES" "$WORKERS" | sed "s/^/$label /"
    "${client[@]}" propagation "$API" "$EDGE" "$bootstrap" "$WORK/$name.ids" "$PROPAGATIONS" \
        | sed "s/^/$label /"
    stop_pid "$SPAWNED_PID"
    forget_pid "$SPAWNED_PID"
}

# The ratio qredge/qredge-before of each figure, per round, from the collected lines.
ratios() { # results-file
    python3 - "$1" <<'EOF'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    store, rnd, label, rest = line.split(" ", 3)
    for name, pattern in (("creates/s", r"^creates .* = (\d+)/s"), ("updates/s", r"^updates .* = (\d+)/s"),
                          ("propagation p99 ms", r"p99 ([\d.]+) ms"), ("propagation p50 ms", r"p50 ([\d.]+) ms")):
        m = re.search(pattern, rest)
        if m:
            rows.setdefault((store, name, rnd), {})[label] = float(m.group(1))
for (store, name, rnd), v in sorted(rows.items()):
    if "qredge" in v and "qredge-before" in v and v["qredge-before"]:
        print("%-9s %-19s round %s: qredge %.2f, before %.2f, ratio %.3f"
              % (store, name, rnd, v["qredge"], v["qredge-before"], v["qredge"] / v["qredge-before"]))
EOF
}

# Measures one binary on one store and appends its lines, prefixed by store and round.
record() { # store round label binary
    measure "$3" "$4" "$1" "$2" >"$WORK/last.txt"
    cat "$WORK/last.txt" >&2
    sed "s/^/$1 $2 /" "$WORK/last.txt" >>"$WORK/results.txt"
}

main() {
    resolve_qredge
    make_workdir writes
    [[ " $STORES " != *" redis "* ]] || start_redis
    local results=$WORK/results.txt round store
    for ((round = 1; round <= ROUNDS; round++)); do
        for store in $STORES; do
            record "$store" "$round" qredge "$QREDGE"
            [[ -z $QREDGE_BEFORE ]] || record "$store" "$round" qredge-before "$QREDGE_BEFORE"
        done
    done
    echo "=== the API's writes: $CREATES creates, $UPDATES updates ($WORKERS connections)," \
        "$PROPAGATIONS propagations; server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU ==="
    sed 's/^/  /' "$results"
    [[ -z $QREDGE_BEFORE ]] || ratios "$results"
    ! grep -q 'FAILED\|NOT SERVED' "$results"
}

main "$@"
