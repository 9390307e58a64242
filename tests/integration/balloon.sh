#!/bin/bash
# virtio-balloon with the demo guest: memory the guest frees comes back to
# the host through free page reporting (the worker's RSS falls), the
# control channel's "balloon SIZE" makes the guest give memory back
# (inflation: the guest's free memory shrinks) and "balloon" reports the
# guest's statistics; bad requests are refused.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD
LOG=$tmp/console

ctl() { # one command on the control socket, prints the reply
    python3 - "$tmp/ctl.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # ready
f.write(sys.argv[2] + "\n"); f.flush()
print(f.readline().strip())
PY
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }
wait_for() { # pattern in the console, seconds
    for _ in $(seq $((10 * $2))); do
        grep -q "$1" "$LOG" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

run='dd+if=/dev/zero+of=/tmp/big+bs=1M+count=150+2>/dev/null;echo+filled;sleep+8;rm+/tmp/big;echo+freed;sleep+25;grep+MemFree+/proc/meminfo'
"$VMON" run --mem 256M --balloon --control "$tmp/ctl.sock" --kernel "$KERNEL" --initrd "$INITRD" \
    --console "$LOG" --timeout 120 --append "console=ttyS0 guest.run=$run" </dev/null >"$tmp/out" 2>&1 &
vpid=$!
wait_for "^guest: running" 60
base=$(rss_kb $vpid)
if wait_for "^filled" 60; then
    sleep 1
    high=$(rss_kb $vpid)
    wait_for "^freed" 30
    grown=$((high - base))
    low=$high
    for _ in $(seq 40); do # reporting runs some seconds after the pages are freed
        sleep 0.5
        low=$(rss_kb $vpid)
        [ $((high - low)) -gt $((grown / 2)) ] && break
    done
    # the fill shows (150 MB, less what the guest had free already), and at
    # least half of it goes back to the host
    [ "$grown" -gt 50000 ] && [ $((high - low)) -gt $((grown / 2)) ] &&
        ok "free page reporting: RSS $base kB, filled $high kB, freed $low kB" ||
        bad "RSS did not fall after the guest freed 150 MB ($base -> $high -> $low kB)"
    r=$(ctl "balloon 96M")
    echo "$r" | grep -q "^ok balloon target 160 MiB" && ok "balloon 96M: target 160 MiB to give" ||
        bad "balloon 96M: $r"
    for _ in $(seq 60); do
        r=$(ctl balloon)
        echo "$r" | grep -q "given 160 MiB" && break
        sleep 0.5
    done
    echo "$r" | grep -q "given 160 MiB" && ok "the guest gave 160 MiB ($r)" || bad "inflation: $r"
    echo "$r" | grep -qE "guest free [1-9][0-9]* MiB \(statistics [1-9]" &&
        ok "the guest's memory statistics arrive" || bad "no statistics: $r"
    ctl "balloon 256M" >/dev/null
    for _ in $(seq 60); do
        r=$(ctl balloon)
        echo "$r" | grep -q "given 0 MiB" && break
        sleep 0.5
    done
    echo "$r" | grep -qE "given 0 MiB, inflated 40960 deflated [1-9]" && ok "balloon 256M: the guest took it all back" ||
        bad "deflation: $r"
    ctl "balloon 96M" >/dev/null
    for _ in $(seq 60); do
        r=$(ctl balloon)
        echo "$r" | grep -q "given 160 MiB" && break
        sleep 0.5
    done
    r=$(ctl "balloon lots")
    echo "$r" | grep -q "^error" && ok "balloon with a bad size is refused ($r)" || bad "balloon lots: $r"
else
    bad "the guest did not fill its memory"
fi
wait $vpid
rc=$?
total=$(tr -d '\r' <"$LOG" | awk '/^MemFree/ {print $2}')
[ $rc -eq 0 ] && [ -n "$total" ] && [ "$total" -lt 120000 ] &&
    ok "the guest sees the balloon: MemFree $total kB of 256 MiB, powered off" ||
    bad "after inflation: exit $rc, MemFree '$total'"
# Without the device, the command says so.
"$VMON" run --mem 256M --control "$tmp/ctl.sock" --kernel "$KERNEL" --initrd "$INITRD" \
    --console none --timeout 60 --append "console=ttyS0 guest.run=sleep+5" </dev/null >"$tmp/out" 2>&1 &
vpid=$!
for _ in $(seq 50); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.1; done
sleep 1
r=$(ctl balloon)
echo "$r" | grep -q "error the VM has no balloon device" && ok "no --balloon: $r" || bad "no device: $r"
wait $vpid
"$VMON" run --balloon=x --bios /dev/null </dev/null >"$tmp/out" 2>&1
[ $? -ne 0 ] && ok "--balloon takes no options" || bad "--balloon=x accepted"
report balloon
