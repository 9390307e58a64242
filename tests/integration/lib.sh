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

# One command on a vmon control socket (--control PATH); prints the reply.
vmon_ctl() { # socket, command
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(120)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # ready
f.write(sys.argv[2] + "\n"); f.flush()
print(f.readline().strip())
PY
}

# Wait until FILE holds a line matching PATTERN; 1 after SECONDS.
wait_in() { # file, pattern, seconds
    for _ in $(seq $((10 * $3))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
