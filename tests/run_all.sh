#!/bin/bash
# Runs every test suite: one line per suite with its count and time, and a
# last line "N passed, M failed". Each suite's whole output (including the
# error messages its negative tests expect) goes to $BUILD/test-logs/NAME.log;
# a failing suite shows its FAIL lines and names that log.
set -u
VMON=${VMON:-build/vmon}
BUILD=${BUILD:-build}
total_pass=0
total_fail=0
logdir=$BUILD/test-logs
mkdir -p "$logdir"

run_suite() { # name, command...
    local name=$1
    shift
    local log=$logdir/$name.log t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$? secs=$((SECONDS - t0))
    local line
    line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -n "$line" ]; then
        local p f
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
        total_pass=$((total_pass + p))
        total_fail=$((total_fail + f))
        printf '%-14s %7d passed, %d failed  %4ds\n' "$name" "$p" "$f" "$secs"
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "$name: exited $rc"
            total_fail=$((total_fail + 1))
            f=1
        fi
    else
        echo "$name: no result line (exit $rc)"
        total_fail=$((total_fail + 1))
        f=1
    fi
    if [ "$f" -ne 0 ]; then
        grep -E "FAIL|check failed" "$log" | head -20 | sed 's/^/    /'
        echo "    (whole output: $log)"
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_suite "$(basename "$t")" "$t"
done
if [ -d "$BUILD/isa" ]; then
    run_suite isa env ISA_JIT_HOT=1 tests/isa/run.sh vmon "$VMON"
    run_suite isa-interp env ISA_ENGINE=interp tests/isa/run.sh vmon "$VMON"
fi
for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    case "$(basename "$t")" in guest.sh | lib.sh | servelib.sh) continue ;; esac # shared helpers, not suites
    run_suite "$(basename "$t" .sh)" env VMON="$VMON" BUILD="$BUILD" bash "$t"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
