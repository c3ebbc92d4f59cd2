# loadtest/services.sh: sourced by cold_start.sh and aggregator.sh (not run on its own).
#
# Private services for one measurement, started the way scripts/test.sh starts them: a
# redis-server and a tansu Kafka-protocol broker on free 127.0.0.1 ports, their data and logs in
# the work dir $WORK (a `mktemp -d`), tansu run from inside it with its environment defaults
# cleared and `--storage-engine sqlite://./tansu.db`. Every process started through `spawn` is
# stopped on exit (also on failure or Ctrl-C), and the work dir is removed unless the script
# failed or KEEP_WORKDIR=1.
#
# Provides: log, die, spawn, stop_pid, free_ports, start_redis, start_tansu, rcli, resolve_qredge,
# wait_ready_line, vm_kb. Expects the caller to set REPO before sourcing.

set -Eeuo pipefail

KEEP_WORKDIR=${KEEP_WORKDIR:-0}
SERVICE_TIMEOUT=${SERVICE_TIMEOUT:-60}
TANSU=${TANSU:-$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")}
# tansu's storage: a sqlite file in the work dir, as scripts/test.sh (the tansu installed there is
# built with the libsql feature only: memory:// is refused).
TANSU_STORAGE=${TANSU_STORAGE:-sqlite://./tansu.db}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

PIDS=()
WORK=""

stop_pid() { # pid [signal]: the signal (TERM), up to 15 s, then KILL.
    local pid=$1 sig=${2:-TERM} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
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
}

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local i
    # Newest first: qredge processes before the services they use.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
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

make_workdir() { # name
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/qredge-$1.XXXXXX")
    log "work dir: $WORK"
}

free_ports() { # n: n distinct free loopback ports (the kernel's choice)
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# The qredge binary: $QREDGE if set, else target/release/qredge, built only when missing.
resolve_qredge() {
    QREDGE=${QREDGE:-$REPO/target/release/qredge}
    if [[ ! -x $QREDGE ]]; then
        [[ $QREDGE == "$REPO/target/release/qredge" ]] || die "QREDGE=$QREDGE is not an executable"
        log "no $QREDGE: cargo build --release --bin qredge"
        (cd "$REPO" && cargo build --release --bin qredge) >"${TMPDIR:-/tmp}/qredge-loadtest-build.log" 2>&1 || {
            tail -n 30 "${TMPDIR:-/tmp}/qredge-loadtest-build.log" >&2
            die "cargo build failed"
        }
    fi
    log "qredge binary: $QREDGE ($(stat -c '%y' "$QREDGE" | cut -d. -f1))"
}

REDIS_PORT=""
REDIS_URL=""
start_redis() {
    command -v redis-server >/dev/null || die "redis-server is missing (apt-get install redis-server)"
    REDIS_PORT=$(free_ports 1)
    # As qredge wants it in production: noeviction (an evicted dedupe set would double count).
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --maxmemory-policy noeviction --dir "$WORK" --daemonize no </dev/null >>"$WORK/redis.log" 2>&1 &
    local pid=$! i
    PIDS+=("$pid")
    REDIS_PID=$pid
    for ((i = 0; i < SERVICE_TIMEOUT * 10; i++)); do
        [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
        kill -0 "$pid" 2>/dev/null || { tail "$WORK/redis.log" >&2; die "redis-server exited"; }
        sleep 0.1
    done
    [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] || die "redis-server not ready"
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    log "redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$REDIS_PORT (pid $pid)"
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

KAFKA_PORT=""
KAFKA_BROKERS=""
start_tansu() {
    [[ -x $TANSU ]] || die "no tansu at $TANSU (scripts/test.sh installs it)"
    KAFKA_PORT=$(free_ports 1)
    (
        cd "$WORK"
        exec env -u CLUSTER_ID -u LISTENER_URL -u ADVERTISED_LISTENER_URL \
            -u STORAGE_ENGINE -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT \
            "$TANSU" broker \
            --cluster-id qredge-loadtest \
            --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --storage-engine "$TANSU_STORAGE"
    ) </dev/null >>"$WORK/tansu.log" 2>&1 &
    local pid=$! i
    PIDS+=("$pid")
    TANSU_PID=$pid
    KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
    for ((i = 0; i < SERVICE_TIMEOUT * 2; i++)); do
        kill -0 "$pid" 2>/dev/null || { tail "$WORK/tansu.log" >&2; die "tansu exited"; }
        (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null && break
        sleep 0.5
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null || die "tansu not listening"
    log "tansu $("$TANSU" --version | awk '{print $2}') on $KAFKA_BROKERS (pid $pid, storage $TANSU_STORAGE)"
}

create_topic() { # name partitions
    local out=$WORK/topic-create.out i
    for ((i = 0; i < 10; i++)); do
        if timeout 20 "$TANSU" topic create "$1" --partitions "$2" --broker "tcp://$KAFKA_BROKERS" \
            </dev/null >"$out" 2>&1 || grep -q TopicAlreadyExists "$out"; then
            return 0
        fi
        sleep 1
    done
    cat "$out" >&2
    die "cannot create topic $1"
}

# Starts a qredge role in the background with its own data dir; sets SPAWNED_PID.
spawn_qredge() { # role name config-file [taskset cpus]
    local role=$1 name=$2 config=$3 cpus=${4:-}
    mkdir -p "$WORK/$name"
    local cmd=("$QREDGE" "$role" --config "$config")
    [[ -n $cpus ]] && cmd=(taskset -c "$cpus" "${cmd[@]}")
    QREDGE_DATA_DIR=$WORK/$name RUST_LOG=${RUST_LOG:-info} "${cmd[@]}" \
        >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" </dev/null &
    SPAWNED_PID=$!
    PIDS+=("$SPAWNED_PID")
}

wait_ready_line() { # name pid timeout_s: until "qredge ready" is on its stdout
    local name=$1 pid=$2 t=$3 i
    for ((i = 0; i < t * 100; i++)); do
        grep -q '^qredge ready' "$WORK/$name.stdout" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    tail -n 20 "$WORK/$name.stderr" >&2
    die "qredge $name did not print its ready line within ${t}s"
}

vm_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # pid VmRSS|VmHWM -> kB

# A Python with confluent_kafka: the system one if it has it, else a venv under $TMPDIR.
python_with() { # module pip-package...: prints the python to use
    local mod=$1; shift
    if python3 -c "import $mod" 2>/dev/null; then
        command -v python3
        return
    fi
    local venv=${LOADTEST_VENV:-${TMPDIR:-/tmp}/qredge-loadtest-venv}
    if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import $mod" 2>/dev/null; then
        log "creating $venv with $*"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q "$@" >&2 || die "pip install $* failed"
    fi
    echo "$venv/bin/python"
}

# Machine-wide CPU accounting, to tell a measurement disturbed by other work (the machine is
# shared: a compiler on the other CPU skews every figure here).
all_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
ticks_pct() { # ticks seconds -> % of one core
    awk -v t="$1" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t / hz / s * 100 }'
}

QUIET_WAIT=${QUIET_WAIT:-600}   # seconds to wait for an idle machine before a measurement
QUIET_MAX=${QUIET_MAX:-15}      # % of all CPUs busy over 2 s that still counts as idle
NOISY=()
wait_quiet() { # what: waits until the machine is idle (up to QUIET_WAIT), else notes it in NOISY
    local start=$SECONDS b0 b1 busy warned=0 n
    n=$(nproc)
    while :; do
        b0=$(all_busy_ticks); sleep 2; b1=$(all_busy_ticks)
        busy=$(awk -v b=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.0f", b / hz / 2 / n * 100 }')
        ((busy <= QUIET_MAX)) && return 0
        if ((SECONDS - start >= QUIET_WAIT)); then
            log "WARNING: machine still ${busy}% busy after ${QUIET_WAIT}s; measuring $1 anyway"
            NOISY+=("$1")
            return 0
        fi
        if ((!warned)); then
            log "machine ${busy}% busy; waiting up to ${QUIET_WAIT}s for it to be idle before $1. Top:"
            ps -eo pid,pcpu,etime,comm --sort=-pcpu | head -n 4 | sed 's/^/    /' >&2
            warned=1
        fi
    done
}
