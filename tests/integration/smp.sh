#!/bin/bash
# SMP under load: the demo guest runs four loops of 1500 short processes at
# once on 4 and 8 vCPUs (more vCPUs than this host has cores), which keeps
# the kernel busy with remote TLB fences, IPIs, timer and WFI wake-ups and
# contended spinlocks. It must finish, with no RCU stall or soft lockup.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_LINES=15
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD

load='for+i+in+1+2+3+4;+do+(for+j+in+$(seq+1500);+do+/bin/true;+done)+&+done;+wait;+echo+load+done'
stall='rcu_sched self-detected stall|rcu: INFO|soft lockup|hard LOCKUP|hung_task|blocked for more than'

run_load() { # name, vmon args...
    local name=$1
    shift
    local t0=$SECONDS
    timeout 600 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 400 --stats \
        --append "console=ttyS0 guest.run=$load" "$@" </dev/null >"$tmp/out" 2>&1
    local rc=$? secs=$((SECONDS - t0))
    if [ $rc -ne 0 ]; then
        bad "$name: exit status $rc after ${secs}s"
    elif ! grep -q "load done" "$tmp/out" || ! grep -q "guest: exit status 0" "$tmp/out"; then
        bad "$name: the load did not finish"
    elif grep -qE "$stall" "$tmp/out"; then
        bad "$name: the kernel reported a stall"
        grep -E "$stall" "$tmp/out" | head -3
    else
        ok "$name: 6000 processes finished in ${secs}s, no stall"
    fi
}

run_load "smp4 hypervisor SBI" --cpus 4
run_load "smp8 hypervisor SBI" --cpus 8
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf
if [ -f "$FW" ]; then
    run_load "smp4 OpenSBI" --cpus 4 --bios "$FW"
else
    bad "smp4 OpenSBI: $FW not installed"
fi

report smp
