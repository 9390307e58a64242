#!/bin/bash
# A hostile guest (tests/hostile/hostile.c) hammers every device register
# and drives every virtio device with random rings and requests. vmon must
# keep running to the program's end (exit 0, no crash or hang), and nothing
# outside what the guest was given may change: files beside the shared
# directory, and the shared directory's parent listing.
set -u
VMON=${VMON:-build/vmon}
RISCV_CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

if ! "$RISCV_CC" -march=rv64g -mabi=lp64d -mcmodel=medany -nostdlib -ffreestanding -O2 \
    -Wl,--no-warn-rwx-segments -T "$here/tests/hostile/link.ld" -o "$tmp/hostile.elf" \
    "$here/tests/hostile/start.S" "$here/tests/hostile/hostile.c"; then
    bad "build the hostile guest"
    echo "hostile: $pass passed, $fail failed"
    exit 1
fi

mkdir -p "$tmp/box/share"
echo "outside the share" >"$tmp/box/outside.txt"
echo "inside the share" >"$tmp/box/share/inside.txt"
head -c 4194304 /dev/zero >"$tmp/box/disk.img"
before=$(cd "$tmp/box" && ls -la --time-style=+ . ; sha256sum outside.txt)

timeout 300 "$VMON" run --bios "$tmp/hostile.elf" --console none --timeout 240 \
    --disk "$tmp/box/disk.img" --net user --share "$tmp/box/share,tag=s" --rng \
    --vconsole "$tmp/vc.out" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    ok "vmon survived and the program finished (exit 0)"
else
    bad "vmon exit status $rc"
    tail -5 "$tmp/out"
fi
n=$(grep -c 'needs reset' "$tmp/out")
if [ "$n" -gt 0 ]; then
    ok "malformed rings marked devices DEVICE_NEEDS_RESET ($n times), reported on stderr"
else
    bad "no device reported a malformed ring"
fi
after=$(cd "$tmp/box" && ls -la --time-style=+ . ; sha256sum outside.txt)
if [ "$before" = "$after" ]; then
    ok "nothing outside the share changed"
else
    bad "files beside the share changed"
fi
# -q: the same run reports no device warnings; -v lists the devices.
timeout 300 "$VMON" run -q --bios "$tmp/hostile.elf" --console none --timeout 240 \
    --disk "$tmp/box/disk.img" --net user --rng >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q 'needs reset' "$tmp/out"; then
    ok "-q: the device warnings are not printed"
else
    bad "-q: status $rc, $(grep -c 'needs reset' "$tmp/out") warnings"
fi
timeout 300 "$VMON" run -v --bios "$tmp/hostile.elf" --console none --timeout 240 --name hvm \
    --disk "$tmp/box/disk.img" --rng >"$tmp/out" 2>&1
if grep -q "^vmon: hvm: disk: $tmp/box/disk.img" "$tmp/out" && grep -q "^vmon: hvm: virtio-blk@0x" "$tmp/out"; then
    ok "-v: devices listed; messages carry the VM's and the device's name"
else
    bad "-v: no device lines"
    head -5 "$tmp/out"
fi
# Random code in U and S mode (tests/hostile/chaos.S), 3000 rounds, under
# each engine: the guest's M-mode handler must see every round end in a
# trap or interrupt from U/S and finish.
if "$RISCV_CC" -march=rv64gc -mabi=lp64d -nostdlib -Wl,--no-warn-rwx-segments \
    -T "$here/tests/hostile/link.ld" -o "$tmp/chaos.elf" "$here/tests/hostile/chaos.S"; then
    for eng in jit interp; do # the translator takes each round's code at once
        hot=$([ $eng = jit ] && echo "--jit-hot 1")
        timeout 300 "$VMON" run --engine $eng $hot --bios "$tmp/chaos.elf" --console none --timeout 240 \
            </dev/null >"$tmp/out" 2>&1
        rc=$?
        [ $rc -eq 0 ] && ok "--engine $eng: 3000 rounds of random U/S code, the guest survived" ||
            bad "--engine $eng: random code: exit status $rc"
    done
else
    bad "build the random-code program"
fi
echo "hostile: $pass passed, $fail failed"
[ $fail -eq 0 ]
