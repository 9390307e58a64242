#!/bin/bash
# Guest panics: a program that reports a panic through the pvpanic device
# (qemu,pvpanic-mmio in the device tree, as Linux's pvpanic driver uses it)
# or through SBI SRST with reason "system failure" is handled by
# --on-panic: exit with status 3 (default), reboot, or pause.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
RISCV_CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
expect() { # name, want status, pattern, vmon args...
    local name=$1 want=$2 pat=$3
    shift 3
    timeout 60 "$VMON" run "$@" </dev/null >"$tmp/out" 2>&1
    local rc=$?
    if [ $rc -eq "$want" ] && grep -qE -- "$pat" "$tmp/out"; then ok "$name"; else
        bad "$name: status $rc, want $want and /$pat/"
    fi
}

# M-mode: check the device says which events it supports (3), then panic.
cat >"$tmp/panic.S" <<'S'
    .globl _start
_start:
    li t0, 0x102000
    lbu t1, 0(t0)
    li t2, 3
    bne t1, t2, bad
    li t1, 1
    sb t1, 0(t0)
1:  wfi
    j 1b
bad:
    li t0, 0x100000
    li t1, (9 << 16) | 0x3333
    sw t1, 0(t0)
    j bad
S
"$RISCV_CC" -nostdlib -Wl,-N,--no-warn-rwx-segments -Ttext=0x80000000 -o "$tmp/panic.elf" "$tmp/panic.S"
expect "pvpanic: default exits with status 3" 3 "guest kernel panicked" --bios "$tmp/panic.elf"
expect "pvpanic: --on-panic exit" 3 "panicked" --bios "$tmp/panic.elf" --on-panic exit
timeout 60 "$VMON" run --bios "$tmp/panic.elf" --on-panic reboot --timeout 2 </dev/null >"$tmp/out" 2>&1
rc=$?
n=$(grep -c "rebooting it" "$tmp/out")
if [ $rc -eq 124 ] && [ "$n" -ge 3 ]; then ok "--on-panic reboot: rebooted $n times"; else bad "--on-panic reboot: status $rc, $n reboots"; fi
expect "--on-panic pause: paused until the timeout" 124 "the VM is paused" \
    --bios "$tmp/panic.elf" --on-panic pause --timeout 2
expect "bad --on-panic value is a usage error" 2 "invalid --on-panic" \
    --bios "$tmp/panic.elf" --on-panic explode

# S-mode under vmon's SBI: SRST shutdown with reason 1 (system failure).
cat >"$tmp/srst.S" <<'S'
    .globl _start
_start:
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    li a1, 1
    ecall
1:  j 1b
S
"$RISCV_CC" -nostdlib -Wl,-N,--no-warn-rwx-segments -Ttext=0x80200000 -o "$tmp/srst.elf" "$tmp/srst.S"
expect "SBI system failure counts as a panic" 3 "system failure" --kernel "$tmp/srst.elf"

# The device tree tells Linux where the device is.
"$VMON" run --bios "$tmp/panic.elf" --dump-dtb "$tmp/dtb" </dev/null >/dev/null 2>&1
if dtc -I dtb -O dts "$tmp/dtb" 2>/dev/null | grep -q 'compatible = "qemu,pvpanic-mmio"'; then
    ok "device tree has a qemu,pvpanic-mmio node"
else
    bad "no pvpanic node in the device tree"
fi

report panic
