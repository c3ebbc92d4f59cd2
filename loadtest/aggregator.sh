#!/usr/bin/env bash
# loadtest/aggregator.sh: how many scan events per second `qredge aggregator` applies to Redis.
#
# WHAT IT DOES
#   1. Starts a private redis-server and tansu broker (loadtest/services.sh) on free 127.0.0.1
#      ports in a mktemp -d work dir, and creates the scans topic with PARTITIONS (6) partitions
#      (`tansu topic create`; the aggregator role does not create it, only an edge does).
#   2. Produces N (200000) well-formed scan events with a Python confluent-kafka producer
#      (prod_helpers.py produce): the ScanEvent JSON of src/model/scan.rs, key = qrId, a unique
#      random eventId each, spread uniformly over CODES_HOT (1000) qrIds of one team, scanTime =
#      now, a mix of devices, browsers, countries, cities, referrers and ~260k IPs; no bots.
#      Producer settings as the edge's (idempotent, acks=all, lz4, linger 5 ms, murmur2_random).
#   3. Broker baseline (BROKER_BASELINE=1): a plain Python consumer reads the N events with a
#      fresh group: how fast tansu alone hands them out.
#   4. For each entry of AGGREGATORS (default "1 2"; e.g. "1 1 1 2 2" repeats runs): Redis is emptied (FLUSHALL, our own Redis),
#      and that many `qredge aggregator` processes are spawned at once in a fresh consumer group
#      (so each run reads the whole topic from the start). From the spawn, the sum over the codes
#      of their `total` + `bots` counters (the hash {prefix}qr:{qrId}:counts, see
#      src/aggregate/redis.rs) is polled (one EVAL) every POLL_INTERVAL (0.1) s until it reaches N. Reported:
#      time to the first count (group join and assignment), to N, the events/s from the spawn,
#      and the steady rate between 10 % and 90 % of N. Then, 3 s later, the sum must still be
#      exactly N, and the distinct event ids stored (ZCARD of the events sets) must be N too.
#      Also the CPU each process used during the run, and Redis's EVALSHA statistics.
#
# USAGE
#   loadtest/aggregator.sh
#   N=500000 CODES_HOT=10000 AGGREGATORS="1" loadtest/aggregator.sh
#   QREDGE=/tmp/qredge-copy loadtest/aggregator.sh   # a given binary (default:
#                                                    # target/release/qredge, built if missing)
#   Knobs (defaults): N=200000 CODES_HOT=1000 PARTITIONS=6 AGGREGATORS="1 2" BROKER_BASELINE=1
#   POLL_INTERVAL=max(0.1, CODES_HOT/20000) RUN_TIMEOUT=900 QUIET_WAIT=600 QUIET_MAX=15 DISTURB_MAX=25 KEEP_WORKDIR=0 QREDGE TANSU
#   TANSU_STORAGE=sqlite://./tansu.db; TMPDIR (where the work dir goes, e.g. /dev/shm).
#   Needs redis-server, python3 with confluent_kafka (else a venv is made under $TMPDIR with
#   pip), and tansu (scripts/test.sh installs it).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=services.sh
source "$REPO/loadtest/services.sh"

N=${N:-200000}
CODES_HOT=${CODES_HOT:-1000}
PARTITIONS=${PARTITIONS:-6}
AGGREGATORS=${AGGREGATORS:-"1 2"}
BROKER_BASELINE=${BROKER_BASELINE:-1}
# Each poll reads 2 counters of every code (~1 us each in Redis): poll more slowly for many codes.
POLL_INTERVAL=${POLL_INTERVAL:-$(awk -v c="$CODES_HOT" 'BEGIN { i = c / 20000; print (i < 0.1 ? 0.1 : i) }')}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
DISTURB_MAX=${DISTURB_MAX:-25}   # % of a core other work may take during a run before it is flagged
HELPERS=$REPO/loadtest/prod_helpers.py
PREFIX='qredge:{s}:'        # the default redis.key_prefix
TOPIC=qredge.scans
TEAM_ID=team_LoadTest0000000001
IDS_SET=loadtest:qrids      # the qrIds, for summing their counters


load_ids() { # the qrIds into a Redis set (again after each FLUSHALL)
    sed "s/^/SADD $IDS_SET /" "$WORK/qrids.txt" | rcli --pipe >/dev/null
    [[ $(rcli scard "$IDS_SET") == "$CODES_HOT" ]] || die "could not list the qrIds in Redis"
}

declare -a REPORT=() REPORT_DETAIL=()
RUN_NO=0

run_aggregators() { # k: k aggregators in one fresh group, from an empty Redis
    local k=$1 i pids=() t0 marks sum
    RUN_NO=$((RUN_NO + 1))
    local r=run$RUN_NO
    local group=agg-$r
    wait_quiet "the run with $k aggregator(s)"
    rcli flushall >/dev/null
    load_ids
    rcli config resetstat >/dev/null
    cat >"$WORK/$r.toml" <<EOF
[redis]
url = "$REDIS_URL"
[kafka]
brokers = "$KAFKA_BROKERS"
topic = "$TOPIC"
partitions = $PARTITIONS
[aggregator]
group = "$group"
EOF
    local r0 k0 b0
    r0=$(proc_ticks "$REDIS_PID"); k0=$(proc_ticks "$TANSU_PID"); b0=$(all_busy_ticks)
    log "$r: $k aggregator(s), group $group"
    t0=$(date +%s.%N)
    for ((i = 1; i <= k; i++)); do
        spawn_qredge aggregator "$r-agg$i" "$WORK/$r.toml"
        pids+=("$SPAWNED_PID")
    done
    read -r -a marks < <(python3 "$HELPERS" poll "$REDIS_PORT" "$IDS_SET" "$PREFIX" "$N" "$t0" \
        "$RUN_TIMEOUT" "$POLL_INTERVAL") || die "polling Redis failed"
    local first=${marks[0]} p10=${marks[1]} p50=${marks[2]} p90=${marks[3]} done_s=${marks[4]} reached=${marks[5]}
    local r1 k1 b1 aticks=() p others
    r1=$(proc_ticks "$REDIS_PID"); k1=$(proc_ticks "$TANSU_PID"); b1=$(all_busy_ticks)
    others=$((b1 - b0 - (r1 - r0) - (k1 - k0)))
    for p in "${pids[@]}"; do aticks+=("$(proc_ticks "$p")"); others=$((others - aticks[-1])); done
    ((others >= 0)) || others=0
    if [[ $done_s == -1* ]]; then
        for ((i = 1; i <= k; i++)); do tail -n 5 "$WORK/$r-agg$i.stderr" >&2; done
        die "$k aggregator(s): the counts reached only $reached of $N within ${RUN_TIMEOUT}s"
    fi
    sleep 3
    sum=$(python3 "$HELPERS" sum "$REDIS_PORT" "$IDS_SET" "$PREFIX" counts)
    local stored
    stored=$(python3 "$HELPERS" sum "$REDIS_PORT" "$IDS_SET" "$PREFIX" events)
    local evalsha
    evalsha=$(rcli info commandstats | tr -d '\r' | awk -F'[:,=]' '$1 == "cmdstat_evalsha" { print $3, $5, $7 }')
    local calls usec per_call
    read -r calls usec per_call <<<"${evalsha:-0 0 0}"
    # Where Redis's time went: commands a script calls are counted on their own too. (HGET is
    # left out: the poller's; the aggregator's script makes one per partition and batch.)
    local inner
    inner=$(rcli info commandstats | tr -d '\r' | awk -F'[:,=]' -v total="$usec" '
        $1 ~ /^cmdstat_/ { name = substr($1, 9); us[name] = $5; calls[name] = $3 }
        END {
            split("zmscore zadd hset hmget pfadd hincrby pexpireat zrangebyscore zrem hdel", names, " ")
            for (i in names) { inside += us[names[i]] }
            printf "calls inside it %.0f%% of that time (", total ? inside / total * 100 : 0
            sep = ""
            for (i = 1; i <= 10; i++) if (us[names[i]] > 0) {
                printf "%s%s %.0f%%", sep, names[i], us[names[i]] / total * 100; sep = ", " }
            printf "), the rest (Lua, arguments, call overhead) ~%.0f%%", total ? (total - inside) / total * 100 : 0
            printf "; the poller took %.1f s of Redis time", us["eval"] / 1e6
        }')
    # partitions each aggregator was given, in order
    local assigned=""
    for ((i = 1; i <= k; i++)); do
        assigned+=" agg$i:$(grep -o 'partitions assigned partitions=\[[0-9, ]*\]' "$WORK/$r-agg$i.stderr" \
            | grep -o '\[[0-9, ]*\]' | tr -d ' ' | paste -sd'>' -)"
    done
    local agg_cpu="" j
    for ((j = 0; j < k; j++)); do agg_cpu+="$(ticks_pct "${aticks[$j]}" "$done_s")% "; done
    for p in "${pids[@]}"; do stop_pid "$p"; forget_pid "$p"; done
    local warns
    warns=$(cat "$WORK/$r"-agg*.stderr | grep -cE ' (WARN|ERROR) ' || true)
    local line oth_pct
    oth_pct=$(ticks_pct "$others" "$done_s")
    ((oth_pct <= DISTURB_MAX)) || NOISY+=("$r (other work took $oth_pct% of a core)")
    line=$(awk -v r="$r" -v k="$k" -v n="$N" -v f="$first" -v a="$p10" -v m="$p50" -v b="$p90" -v d="$done_s" \
        -v sum="$sum" -v st="$stored" -v o="$oth_pct" \
        'BEGIN { printf "%-5s %3s %8.2f %8.2f %10.0f %12.0f %6s%%   %s %s", r, k, f, d, n / d, 0.8 * n / (b - a), o,
                 (sum == n ? "sum " sum " = N OK" : "sum " sum " != N MISMATCH"),
                 (st == n ? "(event ids " st " OK)" : "(event ids " st " MISMATCH)") }')
    REPORT+=("$line")
    REPORT_DETAIL+=("$r, $k aggregator(s): CPU (% of a core, spawn to N) aggregators ${agg_cpu}redis $(ticks_pct $((r1 - r0)) "$done_s")% tansu $(ticks_pct $((k1 - k0)) "$done_s")% everything else $(ticks_pct "$others" "$done_s")%; EVALSHA $calls calls, $(awk -v c="$calls" -v n="$N" 'BEGIN { printf "%.0f", c ? n / c : 0 }') events/call, ${per_call} us/call in Redis ($(awk -v u="$usec" 'BEGIN { printf "%.1f", u / 1e6 }') s of Redis time; $inner); partitions assigned:$assigned; WARN/ERROR log lines: $warns")
    log "$line"
    log "${REPORT_DETAIL[-1]}"
}

main() {
    resolve_qredge
    local py
    py=$(python_with confluent_kafka confluent-kafka)
    make_workdir aggregator
    local uptime_start
    uptime_start=$(uptime)
    log "uptime: $uptime_start"
    start_redis
    start_tansu
    create_topic "$TOPIC" "$PARTITIONS"

    log "producing $N events over $CODES_HOT qrIds to $TOPIC ($PARTITIONS partitions)"
    local produced
    produced=$("$py" "$HELPERS" produce "$KAFKA_BROKERS" "$TOPIC" "$N" "$CODES_HOT" "$TEAM_ID" "$WORK/qrids.txt") \
        || { echo "$produced" >&2; die "producing failed"; }
    log "$produced"

    local baseline=""
    if [[ $BROKER_BASELINE == 1 ]]; then
        local got took from_first
        read -r got took from_first < <("$py" "$HELPERS" consume "$KAFKA_BROKERS" "$TOPIC" "$N") \
            || die "the baseline consumer read too little"
        baseline=$(awk -v g="$got" -v t="$took" -v f="$from_first" \
            'BEGIN { printf "a plain confluent-kafka consumer read %d events in %.1f s (%.0f/s", g, t, g / t
                     if (f >= 0.5) printf "; %.0f/s from its first message", g / f
                     printf ")" }')
        log "broker baseline: $baseline"
    fi

    local k
    for k in $AGGREGATORS; do run_aggregators "$k"; done

    echo
    echo "=== qredge aggregator throughput: $N events over $CODES_HOT qrIds, topic of $PARTITIONS partitions (tansu, $TANSU_STORAGE), $(nproc) CPUs ==="
    echo "binary: $QREDGE"
    echo "uptime at start: $uptime_start"
    echo "produce: $produced"
    [[ -n $baseline ]] && echo "broker: $baseline"
    printf '%-5s %3s %8s %8s %10s %12s %7s   %s\n' run agg "first(s)" "N(s)" "events/s" "steady ev/s" "other" "exactness (3 s after N)"
    local l
    for l in "${REPORT[@]}"; do echo "$l"; done
    echo "first = spawn to the first count; N = spawn to all N counted; events/s = N / that;"
    echo "steady = the events between 10 % and 90 % of N / the time between them; other = CPU (% of a core)"
    echo "used meanwhile by everything but the aggregators, Redis and tansu (high: disturbed by other work)"
    for l in "${REPORT_DETAIL[@]}"; do echo "$l"; done
    ((${#NOISY[@]})) && printf "NOTE: measured on a busy machine: %s\n" "$(IFS=";"; echo "${NOISY[*]}")"
    echo "uptime at end: $(uptime)"
}

main "$@"
