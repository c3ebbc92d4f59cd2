#!/usr/bin/env bash
# qredge test harness: the command CI runs (via .ci/run).
#
# What it does, in order:
#   1. cargo fmt --all -- --check
#   2. cargo clippy --release --all-targets -- -D warnings
#   3. installs the test services if missing: Debian's redis-server and
#      zbar-tools (zbarimg, the QR decoder tests/it/templates.rs reads images with) (apt),
#      the tansu Kafka-protocol broker 0.6.0 (cargo install, ~15-25 min on 2 cores),
#      and a Python venv with confluent-kafka (PyPI, pinned) for the test that reads
#      the scans topic with a real Kafka client (tests/it/kafka_python.rs). The venv is
#      ${XDG_CACHE_HOME:-~/.cache}/qredge-test/venv, made once with `python3 -m venv`
#      (Debian's python3 + python3-venv are apt-installed if that is unavailable)
#      and reused while it imports the pinned confluent-kafka; likewise a second
#      venv with schemathesis (PyPI, pinned) for tests/it/openapi.rs, which runs it
#      against the real binary with the API's /openapi.json; and the dashboard's browser:
#      Debian's chromium and chromium-driver (apt) with a third venv holding selenium
#      (PyPI, pinned), which tests/it/dashboard.rs drives (tests/it/browser/*.py);
#      and axe-core (npm, pinned: `npm pack`, unpacked once into
#      ${XDG_CACHE_HOME:-~/.cache}/qredge-test/axe-core-VERSION), the accessibility
#      checker the browser scripts inject into every page they check.
#   4. starts a throw-away redis-server and tansu broker on free loopback ports,
#      everything (data, logs) inside one `mktemp -d` directory
#   5. waits until both answer (redis PING; tansu TCP connect + a topic create)
#   6. exports QREDGE_TEST_REDIS_URL / QREDGE_TEST_KAFKA_BROKERS /
#      QREDGE_TEST_PYTHON (the venv's python) / QREDGE_TEST_SCHEMATHESIS /
#      QREDGE_TEST_BROWSER_PYTHON (selenium's venv) / QREDGE_TEST_CHROMIUM /
#      QREDGE_TEST_CHROMEDRIVER / QREDGE_TEST_AXE_JS (axe.min.js) and runs
#      `cargo test --release "$@"` (extra script args go to cargo test, e.g.
#      `scripts/test.sh -- --nocapture` or `scripts/test.sh some_test_name`)
#   7. on exit (success, failure or signal) stops both services and deletes the
#      temp dir; the script's exit status is cargo test's (or the first failure's).
# A service that does not come up, or a dependency that does not install, is a
# hard failure (its log is printed): tests are never silently skipped.
#
# Environment knobs (all optional):
#   QREDGE_HARNESS_ONLY=1     developer mode: skip fmt/clippy/tests; install and
#                             start the services, print the exported variables,
#                             ping both, then stop everything and exit.
#                             Add QREDGE_HARNESS_HOLD=1 to keep them running until
#                             Ctrl-C (handy to run `cargo test` from another shell
#                             with the printed exports).
#   QREDGE_SKIP_LINT=1        skip the fmt and clippy steps.
#   QREDGE_SERVICE_TIMEOUT=N  seconds to wait for each service (default 60).
#   QREDGE_TEST_VENV=DIR      where the confluent-kafka venv lives (default
#                             ${XDG_CACHE_HOME:-~/.cache}/qredge-test/venv).
#   QREDGE_SCHEMATHESIS_VENV=DIR  where the schemathesis venv lives (default
#                             ${XDG_CACHE_HOME:-~/.cache}/qredge-test/schemathesis-venv).
#   QREDGE_SELENIUM_VENV=DIR  where the selenium venv lives (default
#                             ${XDG_CACHE_HOME:-~/.cache}/qredge-test/selenium-venv).
#   QREDGE_AXE_DIR=DIR        where axe-core's axe.min.js is unpacked (default
#                             ${XDG_CACHE_HOME:-~/.cache}/qredge-test/axe-core-VERSION).
#   QREDGE_TANSU_STORAGE=URL  override tansu's --storage-engine (default: a sqlite
#                             file in the temp dir). Used to test the failure path.
#                             NB: tansu resolves sqlite URLs relative to its working
#                             directory (the temp dir), e.g. sqlite://./tansu.db.
set -euo pipefail

TANSU_VERSION=0.6.0
CONFLUENT_KAFKA_VERSION=2.16.1
SCHEMATHESIS_VERSION=4.32.5
SELENIUM_VERSION=4.50.0
AXE_CORE_VERSION=4.14.1
SERVICE_TIMEOUT="${QREDGE_SERVICE_TIMEOUT:-60}"
HARNESS_ONLY="${QREDGE_HARNESS_ONLY:-0}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

# cargo-installed binaries (tansu) live here; CI's PATH may not have it.
if [[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

log() { printf '==> %s\n' "$*"; }
err() { printf '==> ERROR: %s\n' "$*" >&2; }
now() { date +%s; }

# --------------------------------------------------------------------------
# cleanup: runs on every exit path, keeps the exit status
# --------------------------------------------------------------------------
WORKDIR=""
REDIS_PID=""
TANSU_PID=""

stop_pid() { # name pid
    local name=$1 pid=$2 i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do # up to 10 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "==> $name (pid $pid) ignored SIGTERM, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ -n "$REDIS_PID$TANSU_PID" ]]; then
        log "stopping services"
    fi
    stop_pid tansu "$TANSU_PID"
    stop_pid redis-server "$REDIS_PID"
    if [[ -n "$WORKDIR" && -d "$WORKDIR" ]]; then
        rm -rf -- "$WORKDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------------------
# 1-2. lint
# --------------------------------------------------------------------------
if [[ "$HARNESS_ONLY" != 1 && "${QREDGE_SKIP_LINT:-0}" != 1 ]]; then
    log "cargo fmt --all -- --check"
    cargo fmt --all -- --check
    log "cargo clippy --release --all-targets -- -D warnings"
    cargo clippy --locked --release --all-targets -- -D warnings
fi

# --------------------------------------------------------------------------
# 3. install services if missing
# --------------------------------------------------------------------------
APT_UPDATED=0
apt_install() { # package...
    local SUDO=()
    if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null; then SUDO=(sudo -n); fi
    if [[ "$APT_UPDATED" != 1 ]]; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
        APT_UPDATED=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "installing redis-server (apt)"
    t0=$(now)
    apt_install redis-server
    log "redis-server installed in $(($(now) - t0))s"
fi
log "using $(redis-server --version | cut -d' ' -f1-3)"

# tests/it/templates.rs reads the QR images back with a real decoder (zbar).
if ! command -v zbarimg >/dev/null; then
    log "installing zbar-tools (apt)"
    apt_install zbar-tools
fi
command -v zbarimg >/dev/null || { err "zbarimg is missing after installing zbar-tools"; exit 1; }
log "using $(zbarimg --version 2>/dev/null | head -n1 | sed 's/^/zbarimg /')"

tansu_version_ok() {
    command -v tansu >/dev/null && [[ "$(tansu --version 2>/dev/null)" == "tansu $TANSU_VERSION" ]]
}

if ! tansu_version_ok; then
    # Someone (e.g. a developer's earlier run) may already be building it:
    # wait for that instead of racing a second build of the same thing.
    if pgrep -f "cargo install tansu" >/dev/null; then
        log "waiting for an already running 'cargo install tansu' to finish"
        t0=$(now)
        while pgrep -f "cargo install tansu" >/dev/null; do sleep 10; done
        log "it finished after $(($(now) - t0))s"
    fi
fi
if ! tansu_version_ok; then
    force=()
    if command -v tansu >/dev/null; then
        log "found '$(tansu --version 2>&1 || true)', want $TANSU_VERSION"
        force=(--force)
    fi
    log "installing tansu $TANSU_VERSION (cargo install, takes a while)"
    t0=$(now)
    cargo install tansu --version "$TANSU_VERSION" --features libsql --locked "${force[@]}"
    log "tansu installed in $(($(now) - t0))s"
    tansu_version_ok || { err "tansu $TANSU_VERSION still not on PATH after install"; exit 1; }
fi
log "using $(tansu --version)"

# Prints a python3 that can make a venv (venv + ensurepip: Debian splits them
# into python3-venv): the one on PATH, else Debian's.
venv_python() {
    local py
    for py in "$(command -v python3 || true)" /usr/bin/python3; do
        [[ -n "$py" && -x "$py" ]] || continue
        if "$py" -c 'import venv, ensurepip' </dev/null >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

venv_ok() { # dir module dist version: the venv's python imports the pinned package
    [[ -x "$1/bin/python" ]] &&
        "$1/bin/python" -c 'import sys, importlib, importlib.metadata
importlib.import_module(sys.argv[1])
sys.exit(importlib.metadata.version(sys.argv[2]) != sys.argv[3])' "$2" "$3" "$4" \
            </dev/null >/dev/null 2>&1
}

# Makes (once) the venv DIR with DIST==VERSION from PyPI, and reuses it while it
# imports MODULE at that version; an install that fails is a hard failure.
ensure_venv() { # dir module dist version
    local dir=$1 module=$2 dist=$3 version=$4 t0 py lock
    venv_ok "$@" && return 0
    t0=$(now)
    mkdir -p "$(dirname "$dir")"
    # One install at a time: a second harness waits for the first, then reuses it.
    exec {lock}>"$dir.lock"
    flock "$lock"
    if ! venv_ok "$@"; then
        if [[ ! -x "$dir/bin/python" ]] || ! "$dir/bin/python" -c '' </dev/null 2>/dev/null; then
            if ! py=$(venv_python); then
                log "installing python3 and python3-venv (apt)"
                apt_install python3 python3-venv
                py=$(venv_python) || { err "python3 -m venv still unavailable after installing python3-venv"; exit 1; }
            fi
            log "creating the Python venv $dir ($("$py" --version 2>&1))"
            # a broken venv (e.g. its base python is gone) is made anew
            if [[ -f "$dir/pyvenv.cfg" ]]; then rm -rf -- "$dir"; fi
            "$py" -m venv "$dir" || { err "python3 -m venv $dir failed"; exit 1; }
        fi
        log "installing $dist $version into $dir (pip)"
        "$dir/bin/python" -m pip install --disable-pip-version-check -q \
            "$dist==$version" </dev/null ||
            { err "pip install $dist==$version failed"; exit 1; }
        venv_ok "$@" || { err "the venv $dir still cannot import $dist $version"; exit 1; }
        log "Python venv $dir ready in $(($(now) - t0))s"
    fi
    exec {lock}>&-
}

# confluent-kafka for tests/it/kafka_python.rs (tests/python/read_scans.py).
PY_VENV="${QREDGE_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qredge-test/venv}"
ensure_venv "$PY_VENV" confluent_kafka confluent-kafka "$CONFLUENT_KAFKA_VERSION"
log "using $("$PY_VENV/bin/python" --version 2>&1) with confluent-kafka $CONFLUENT_KAFKA_VERSION ($PY_VENV)"

# schemathesis for tests/it/openapi.rs, in a venv of its own: its many dependencies
# stay apart from confluent-kafka's, and each venv is checked by its own pin.
ST_VENV="${QREDGE_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qredge-test/schemathesis-venv}"
ensure_venv "$ST_VENV" schemathesis schemathesis "$SCHEMATHESIS_VERSION"
log "using schemathesis $SCHEMATHESIS_VERSION ($ST_VENV)"

# The dashboard's browser tests (tests/it/dashboard.rs): a real headless Chromium and its
# WebDriver from Debian, driven by selenium from a venv of its own.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing chromium and chromium-driver (apt)"
    apt_install chromium chromium-driver
fi
CHROMIUM="$(command -v chromium || true)"
CHROMEDRIVER="$(command -v chromedriver || true)"
[[ -n "$CHROMIUM" && -n "$CHROMEDRIVER" ]] || { err "chromium or chromedriver is missing after installing them"; exit 1; }
log "using $("$CHROMIUM" --version 2>/dev/null | head -n1) and $("$CHROMEDRIVER" --version | head -n1 | cut -d' ' -f1-2)"
SEL_VENV="${QREDGE_SELENIUM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qredge-test/selenium-venv}"
ensure_venv "$SEL_VENV" selenium selenium "$SELENIUM_VERSION"
log "using selenium $SELENIUM_VERSION ($SEL_VENV)"

# axe-core for the browser scripts' accessibility checks (common.py's axe_check): the pinned
# package from the npm registry (`npm pack` checks its integrity), only axe.min.js kept.
AXE_DIR="${QREDGE_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qredge-test/axe-core-$AXE_CORE_VERSION}"
ensure_axe() {
    local lock unpack
    [[ -s "$AXE_DIR/axe.min.js" ]] && return 0
    command -v npm >/dev/null || apt_install npm
    mkdir -p "$(dirname "$AXE_DIR")"
    # One install at a time: a second harness waits for the first, then reuses it.
    exec {lock}>"$AXE_DIR.lock"
    flock "$lock"
    if [[ ! -s "$AXE_DIR/axe.min.js" ]]; then
        log "installing axe-core $AXE_CORE_VERSION (npm pack)"
        unpack="$(mktemp -d "$AXE_DIR.XXXXXX")"
        (cd "$unpack" && npm pack --silent "axe-core@$AXE_CORE_VERSION" </dev/null >/dev/null) ||
            { err "npm pack axe-core@$AXE_CORE_VERSION failed"; exit 1; }
        tar -xzf "$unpack/axe-core-$AXE_CORE_VERSION.tgz" -C "$unpack" package/axe.min.js ||
            { err "axe-core's package has no axe.min.js"; exit 1; }
        mkdir -p "$AXE_DIR"
        mv "$unpack/package/axe.min.js" "$AXE_DIR/axe.min.js"
        rm -rf -- "$unpack"
    fi
    exec {lock}>&-
}
ensure_axe
[[ -s "$AXE_DIR/axe.min.js" ]] || { err "axe.min.js is missing after installing axe-core"; exit 1; }
log "using axe-core $AXE_CORE_VERSION ($AXE_DIR)"

# --------------------------------------------------------------------------
# 4. start services
# --------------------------------------------------------------------------
WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/qredge-test.XXXXXX")"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints N distinct free loopback ports. Prefer the kernel's choice (bind to
# port 0); fall back to probing random high ports with bash's /dev/tcp.
free_ports() {
    local n=$1
    if command -v python3 >/dev/null && python3 - "$n" <<'EOF' 2>/dev/null; then
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
        return 0
    fi
    local ports=() p
    while ((${#ports[@]} < n)); do
        p=$((20000 + RANDOM % 40000))
        [[ " ${ports[*]} " == *" $p "* ]] && continue
        port_in_use "$p" || ports+=("$p")
    done
    echo "${ports[*]}"
}

read -r REDIS_PORT KAFKA_PORT < <(free_ports 2)
[[ -n "${REDIS_PORT:-}" && -n "${KAFKA_PORT:-}" ]] || { err "could not pick free ports"; exit 1; }

show_log() { # name file
    echo "----- $1 log ($2) -----" >&2
    if [[ -s "$2" ]]; then tail -n 100 "$2" >&2; else echo "(empty)" >&2; fi
    echo "----- end of $1 log -----" >&2
}

REDIS_LOG="$WORKDIR/redis.log"
log "starting redis-server on 127.0.0.1:$REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORKDIR" --daemonize no </dev/null >>"$REDIS_LOG" 2>&1 &
REDIS_PID=$!

TANSU_LOG="$WORKDIR/tansu.log"
TANSU_STORAGE="${QREDGE_TANSU_STORAGE:-sqlite://./tansu.db}"
log "starting tansu broker on 127.0.0.1:$KAFKA_PORT (storage $TANSU_STORAGE)"
# Run from the temp dir: tansu resolves sqlite paths relative to its cwd and
# also reads a .env file from the cwd (or a parent). Variables it would read as
# defaults are cleared so the flags below are the whole configuration.
(
    cd "$WORKDIR"
    exec env -u CLUSTER_ID -u LISTENER_URL -u ADVERTISED_LISTENER_URL \
        -u STORAGE_ENGINE -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT \
        tansu broker \
        --cluster-id qredge-test \
        --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine "$TANSU_STORAGE"
) </dev/null >>"$TANSU_LOG" 2>&1 &
TANSU_PID=$!

# --------------------------------------------------------------------------
# 5. wait for readiness
# --------------------------------------------------------------------------
redis_ready() {
    [[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

TANSU_CHECK_OUT="$WORKDIR/tansu-topic-create.out"
tansu_ready() {
    port_in_use "$KAFKA_PORT" || return 1
    if timeout 20 tansu topic create qredge-harness-check --partitions 1 \
        --broker "tcp://127.0.0.1:$KAFKA_PORT" </dev/null >"$TANSU_CHECK_OUT" 2>&1; then
        return 0
    fi
    # an earlier attempt may have created it even though it reported failure
    grep -q TopicAlreadyExists "$TANSU_CHECK_OUT"
}

wait_ready() { # name pid check-fn logfile
    local name=$1 pid=$2 check=$3 logfile=$4 t0
    t0=$(now)
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            err "$name exited before becoming ready"
            show_log "$name" "$logfile"
            exit 1
        fi
        if "$check"; then
            log "$name ready after $(($(now) - t0))s"
            return 0
        fi
        if (($(now) - t0 >= SERVICE_TIMEOUT)); then
            err "$name not ready after ${SERVICE_TIMEOUT}s"
            show_log "$name" "$logfile"
            if [[ "$name" == tansu && -s "$TANSU_CHECK_OUT" ]]; then
                show_log "tansu topic create" "$TANSU_CHECK_OUT"
            fi
            exit 1
        fi
        sleep 0.5
    done
}

wait_ready redis-server "$REDIS_PID" redis_ready "$REDIS_LOG"
wait_ready tansu "$TANSU_PID" tansu_ready "$TANSU_LOG"

export QREDGE_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
export QREDGE_TEST_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export QREDGE_TEST_PYTHON="$PY_VENV/bin/python"
export QREDGE_TEST_SCHEMATHESIS="$ST_VENV/bin/schemathesis"
export QREDGE_TEST_BROWSER_PYTHON="$SEL_VENV/bin/python"
export QREDGE_TEST_CHROMIUM="$CHROMIUM"
export QREDGE_TEST_CHROMEDRIVER="$CHROMEDRIVER"
export QREDGE_TEST_AXE_JS="$AXE_DIR/axe.min.js"
log "redis on 127.0.0.1:$REDIS_PORT, kafka (tansu) on 127.0.0.1:$KAFKA_PORT, files in $WORKDIR"

# --------------------------------------------------------------------------
# developer mode
# --------------------------------------------------------------------------
if [[ "$HARNESS_ONLY" == 1 ]]; then
    echo "export QREDGE_TEST_REDIS_URL=$QREDGE_TEST_REDIS_URL"
    echo "export QREDGE_TEST_KAFKA_BROKERS=$QREDGE_TEST_KAFKA_BROKERS"
    echo "export QREDGE_TEST_PYTHON=$QREDGE_TEST_PYTHON"
    echo "export QREDGE_TEST_SCHEMATHESIS=$QREDGE_TEST_SCHEMATHESIS"
    echo "export QREDGE_TEST_BROWSER_PYTHON=$QREDGE_TEST_BROWSER_PYTHON"
    echo "export QREDGE_TEST_CHROMIUM=$QREDGE_TEST_CHROMIUM"
    echo "export QREDGE_TEST_CHROMEDRIVER=$QREDGE_TEST_CHROMEDRIVER"
    echo "export QREDGE_TEST_AXE_JS=$QREDGE_TEST_AXE_JS"
    log "redis-cli -u $QREDGE_TEST_REDIS_URL ping: $(redis-cli -u "$QREDGE_TEST_REDIS_URL" ping)"
    log "tansu topic list: $(tansu topic list --broker "tcp://$QREDGE_TEST_KAFKA_BROKERS" </dev/null 2>&1 | tr '\n' ' ')"
    if [[ "${QREDGE_HARNESS_HOLD:-0}" == 1 ]]; then
        log "services running; Ctrl-C to stop"
        wait -n "$TANSU_PID" "$REDIS_PID" || true
        err "a service exited"
        exit 1
    fi
    exit 0
fi

# --------------------------------------------------------------------------
# 6. tests
# --------------------------------------------------------------------------
log "cargo test --release $*"
cd "$REPO_ROOT"
cargo test --locked --release "$@"
