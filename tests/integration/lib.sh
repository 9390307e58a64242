# Shared by the integration suites (sourced): PASS/FAIL lines and counts, a
# temporary directory removed at exit, and the suite's result line. A
# failing check shows the end of $LOG (default $tmp/out) when it exists.
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() {
    pass=$((pass + 1))
    echo "PASS $1"
}
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    local log=${LOG:-$tmp/out}
    [ -f "$log" ] && tail -"${LOG_LINES:-8}" "$log" | sed 's/^/    /'
    return 0
}
report() { # suite name: prints "NAME: N passed, M failed", fails if any failed
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
