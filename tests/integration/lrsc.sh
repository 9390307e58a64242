#!/bin/bash
# Contention: 64 vCPUs (the most a VM may have) hammer one LR/SC
# reservation and one AMO counter on this 2-core host, under each engine.
# Every increment must count (the program checks the sum) and vmon must
# finish without a hang; more vCPUs than that is a usage error.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
RISCV_CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
here=$(cd "$(dirname "$0")/../.." && pwd)

if ! "$RISCV_CC" -march=rv64gc -mabi=lp64d -nostdlib -DNHARTS=64 -Wl,--no-warn-rwx-segments \
    -T "$here/tests/hostile/link.ld" -o "$tmp/lrsc.elf" "$here/tests/hostile/lrsc.S"; then
    bad "build the LR/SC program"
    report lrsc; exit 1
fi
for eng in jit interp; do
    t0=$SECONDS
    timeout 300 "$VMON" run --engine $eng --cpus 64 --bios "$tmp/lrsc.elf" --timeout 240 \
        --console none </dev/null >"$tmp/out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && ok "--engine $eng: 64 vCPUs, 192000 LR/SC increments all counted ($((SECONDS - t0))s)" ||
        bad "--engine $eng: exit status $rc"
done
"$VMON" run --cpus 65 --bios "$tmp/lrsc.elf" </dev/null >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "1..64" "$tmp/out" && ok "--cpus 65 is refused (exit 2, names 1..64)" ||
    bad "--cpus 65: exit $rc"
report lrsc
