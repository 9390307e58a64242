#!/bin/bash
# Boots the demo Linux guest the way a user would and checks what it prints:
# 1, 2 and 4 vCPUs with hypervisor SBI, OpenSBI fw_dynamic firmware, reboot,
# poweroff, and a kernel panic reported as a failure.
set -u
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    tail -15 "$tmp/out" | sed 's/^/    /'
}

boot() { # name, expected status, vmon args... → output in $tmp/out
    local name=$1 want=$2
    shift 2
    timeout 300 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --console stdio "$@" \
        </dev/null >"$tmp/out" 2>&1
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$name: exit status $rc, want $want"
        return 1
    fi
    return 0
}

for n in 1 2 4; do
    if boot "smp$n" 0 --cpus $n --timeout 240 \
        --append "console=ttyS0 guest.run=echo+cpus=\$(nproc)+sum=\$((6*7))"; then
        if grep -q "cpus=$n sum=42" "$tmp/out" && grep -q "guest: exit status 0" "$tmp/out" &&
            grep -q "init reached" "$tmp/out"; then
            ok "smp$n: nproc says $n, command ran, clean poweroff"
        else
            bad "smp$n: expected output missing"
        fi
    fi
done

# The hypercall statistics are printed with --stats.
if boot stats 0 --stats --timeout 240 --append "console=ttyS0 guest.exit"; then
    if grep -qE '^hypercalls: [0-9]+ .*time=[0-9]+' "$tmp/out"; then
        ok "stats: hypercall counts printed"
    else
        bad "stats: no hypercall counts"
    fi
fi

# Firmware boot: Debian's OpenSBI fw_dynamic in M-mode, kernel in S-mode.
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf
if [ -f "$FW" ]; then
    if boot opensbi 0 --bios "$FW" --cpus 2 --timeout 240 \
        --append "console=ttyS0 guest.run=cat+/proc/cpuinfo"; then
        if grep -q "OpenSBI" "$tmp/out" && grep -q "guest: exit status 0" "$tmp/out" &&
            grep -q "hart.*: 1" "$tmp/out"; then
            ok "opensbi: firmware ran, kernel booted 2 harts, clean poweroff"
        else
            bad "opensbi: expected output missing"
        fi
    fi
else
    bad "opensbi: $FW not installed"
fi

# Reboot: the machine resets and boots again (stopped by the timeout).
timeout 300 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 10 \
    --append "console=ttyS0 guest.run=reboot+-f" </dev/null >"$tmp/out" 2>&1
boots=$(grep -c "init reached" "$tmp/out")
if [ "$boots" -ge 2 ]; then
    ok "reboot: guest booted $boots times"
else
    bad "reboot: guest booted $boots times"
fi

# A kernel panic is reported (panic text on the console) and exits nonzero.
timeout 300 "$VMON" run --kernel "$KERNEL" --timeout 30 \
    --append "console=ttyS0 panic=0 root=/dev/nonexistent" </dev/null >"$tmp/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "Kernel panic" "$tmp/out"; then
    ok "panic: reported, exit status $rc"
else
    bad "panic: exit status $rc"
fi

echo "boot: $pass passed, $fail failed"
[ $fail -eq 0 ]
