# Shared by the suites that drive vmon serve (sourced after lib.sh): the
# service's socket, state directory and log under $tmp, starting and
# stopping services (every one still running is stopped at exit), the API
# through curl, JSON fields, waits on a VM's state and console, and checks
# of refusals. Each helper that talks to the service has an _on form that
# takes the socket first (two services: migserve.sh) and a short form on
# $SOCK (which $VMON_SOCKET names for the CLI).
VMON=${VMON:-build/vmon}
VMON=$(cd "$(dirname "$VMON")" && pwd)/$(basename "$VMON")
SOCK=$tmp/vmon.sock
STATE=$tmp/state
export VMON_SOCKET=$SOCK
LOG=$tmp/serve.log
svc_pid=    # the service started last
svc_pids=() # every service started and not stopped yet
svc_cleanup() { # at exit (a suite with more to end calls it from its own trap)
    for p in "${svc_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p"; done
    rm -rf "$tmp"
}
trap svc_cleanup EXIT

# start_service_on SOCKET STATE-DIR [vmon serve options]: until it answers
# (10 s); its log goes to $LOG.
start_service_on() {
    local sock=$1 state=$2
    shift 2
    "$VMON" serve --socket "$sock" --state "$state" "$@" 2>>"$LOG" &
    svc_pid=$!
    svc_pids+=("$svc_pid")
    for _ in $(seq 100); do
        curl -sf --unix-socket "$sock" http://x/v1/version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
start_service() { start_service_on "$SOCK" "$STATE" "$@"; }

# stop_service [SIGNAL]: ends the service started last (SIGTERM by
# default); the status of its exit.
stop_service() {
    local p keep=() rc
    kill -"${1:-TERM}" "$svc_pid" 2>/dev/null
    wait "$svc_pid" 2>/dev/null
    rc=$?
    for p in "${svc_pids[@]}"; do [ "$p" = "$svc_pid" ] || keep+=("$p"); done
    svc_pids=("${keep[@]}")
    svc_pid=
    return $rc
}

# api_on SOCKET METHOD PATH [BODY]: status in $status, body in $tmp/body.
api_on() {
    local args=(-s -o "$tmp/body" -w '%{http_code}' --unix-socket "$1" -X "$2")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    status=$(curl "${args[@]}" "http://localhost$3")
}
api() { api_on "$SOCK" "$@"; }

json() { # FILE PYTHON-EXPRESSION-ON-d
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

vm_field_on() { # SOCKET NAME KEY: a top-level field of GET /v1/vms/NAME
    api_on "$1" GET "/v1/vms/$2" && json "$tmp/body" "d.get('$3', '')"
}
vm_field() { vm_field_on "$SOCK" "$@"; }

wait_state_on() { # SOCKET NAME STATE [SECONDS]: 1 unless it gets there in time (60 s)
    for _ in $(seq $((${4:-60} * 5))); do
        [ "$(vm_field_on "$1" "$2" state)" = "$3" ] && return 0
        sleep 0.2
    done
    return 1
}
wait_state() { wait_state_on "$SOCK" "$@"; }

wait_log() { # NAME PATTERN [SECONDS]: until its console (vmon logs) shows PATTERN (60 s)
    for _ in $(seq $((${3:-60} * 5))); do
        "$VMON" logs "$1" 2>/dev/null | grep -q -- "$2" && return 0
        sleep 0.2
    done
    return 1
}

counts_on() { # SOCKET NAME: N of each complete "count N" line of its console
    "$VMON" logs "$2" --socket "$1" 2>/dev/null | python3 -c '
import re, sys
for line in sys.stdin.buffer.read().decode("latin-1").split("\n")[:-1]:
    m = re.fullmatch(r"count (\d+)\r?", line)
    if m: print(m.group(1))'
}
counts() { counts_on "$SOCK" "$@"; }

# wait_count_on SOCKET NAME N [TIMES]: until the VM has printed count N
# (TIMES times; 20 s at most).
wait_count_on() {
    for _ in $(seq 100); do
        [ "$(counts_on "$1" "$2" | grep -cx "$3")" -ge "${4:-1}" ] && return 0
        sleep 0.2
    done
    return 1
}
wait_count() { wait_count_on "$SOCK" "$@"; }

# expect_error_on SOCKET NAME STATUS PATTERN METHOD PATH [BODY]: that status
# and a JSON error whose message matches PATTERN (any message when empty).
expect_error_on() {
    local sock=$1 name=$2 want=$3 pat=$4
    shift 4
    api_on "$sock" "$@"
    local msg
    msg=$(json "$tmp/body" "d['error']")
    if [ "$status" = "$want" ] && [ -n "$msg" ] && { [ -z "$pat" ] || echo "$msg" | grep -q -- "$pat"; }; then
        ok "$name: $status ($msg)"
    else
        bad "$name: status $status, want $want with a JSON error${pat:+ matching '$pat'}; body: $(head -c 300 "$tmp/body")"
    fi
}
# expect_error NAME STATUS METHOD PATH [BODY]: the status and a JSON error.
expect_error() { expect_error_on "$SOCK" "$1" "$2" "" "${@:3}"; }
# expect_error_matching NAME STATUS PATTERN METHOD PATH [BODY]: ... matching PATTERN.
expect_error_matching() { expect_error_on "$SOCK" "$@"; }

# expect_cli NAME STATUS PATTERN vmon-args...: that exit status and PATTERN
# in its output.
expect_cli() {
    local name=$1 want=$2 pat=$3
    shift 3
    "$VMON" "$@" >"$tmp/out" 2>&1
    local rc=$?
    [ $rc = "$want" ] && grep -q -- "$pat" "$tmp/out" && ok "$name: $(head -1 "$tmp/out")" ||
        bad "$name: exit $rc: $(cat "$tmp/out")"
}
