#!/bin/bash
# The hypercall interface: tests/sbi/sbitest.c, a bare-metal S-mode program
# that vmon boots as a kernel (hypervisor SBI, 2 harts), checks every SBI
# extension's return values and effects and prints "sbi: N passed, M failed".
# Also checks that --stats reports the hypercalls per extension, and that
# the steal time (SBI STA) a capped guest is told is what it lost, and
# tests/sbi/hsmlimit.c: HSM starts no more harts than --cpus-online allows,
# changed live through the control channel.
set -u
VMON=${VMON:-build/vmon}
RISCV_CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/lib.sh" # ok, bad, report, $tmp, wait_in, vmon_ctl

# build_prog NAME: tests/sbi/NAME.c, an S-mode program, into $tmp/NAME.elf.
build_prog() {
    "$RISCV_CC" -march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -ffreestanding -O2 \
        -Wl,--no-warn-rwx-segments -T "$here/tests/sbi/link.ld" -o "$tmp/$1.elf" \
        "$here/tests/sbi/start.S" "$here/tests/sbi/$1.c"
}
if ! build_prog sbitest; then
    bad "build sbitest"
    report sbi
    exit 1
fi

for eng in jit interp; do # the hypercalls behave the same under each engine
timeout 60 "$VMON" run --engine $eng --kernel "$tmp/sbitest.elf" --cpus 2 --timeout 30 --stats \
    </dev/null >"$tmp/out" 2>&1
rc=$?
line=$(grep -E '^sbi: [0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -1)
grep '^FAIL' "$tmp/out"
if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/sbi: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')
    pass=$((pass + p))
    fail=$((fail + f))
    echo "sbitest (--engine $eng): $p checks passed, $f failed in the guest"
else
    bad "sbitest (--engine $eng) printed no result (exit $rc)"
    tail -5 "$tmp/out"
fi
if [ $rc -eq 0 ]; then ok "--engine $eng: clean SRST shutdown, exit 0"; else bad "--engine $eng: exit status $rc"; fi
if grep -qiE 'hsm' "$tmp/out" && grep -qiE 'rfence|RFNC' "$tmp/out"; then
    ok "--engine $eng: --stats lists hypercalls per extension"
else
    bad "--engine $eng: --stats output lacks per-extension counts"
fi
done

# Steal time (SBI STA): under a 30% cap the hart waits most of the time it
# is runnable, and the steal time it is told is most of the 0.3 s it spun.
timeout 60 "$VMON" run --kernel "$tmp/sbitest.elf" --cpus 2 --timeout 30 --cap 30 \
    </dev/null >"$tmp/cap.out" 2>&1
steal=$(grep -oE '^sta: steal ns [0-9]+' "$tmp/cap.out" | grep -oE '[0-9]+$')
if [ "${steal:-0}" -gt 100000000 ] && grep -q '^sbi: [0-9]* passed, 0 failed' "$tmp/cap.out"; then
    ok "sta: under --cap 30 the guest is told $((steal / 1000000)) ms of steal time"
else
    bad "sta: steal '${steal:-none}' ns under --cap 30"
    tail -5 "$tmp/cap.out"
fi
# The vCPUs online: HSM starts no more harts than --cpus-online, and the
# control channel's cpus-online changes it while the guest runs.
if build_prog hsmlimit; then
    timeout 60 "$VMON" run --kernel "$tmp/hsmlimit.elf" --cpus 3 --cpus-online 1 --timeout 50 \
        --control "$tmp/hsm.ctl" </dev/null >"$tmp/hsm.out" 2>&1 &
    hpid=$!
    r2= r1=
    if wait_in "$tmp/hsm.out" "hsm: waiting for 2" 20; then
        r2=$(vmon_ctl "$tmp/hsm.ctl" "cpus-online 2")
        wait_in "$tmp/hsm.out" "hsm: waiting for 1" 20 && r1=$(vmon_ctl "$tmp/hsm.ctl" "cpus-online 1")
    fi
    wait $hpid
    rc=$?
    if [ $rc = 0 ] && grep -q '^sbi-hsm: [0-9]* passed, 0 failed' "$tmp/hsm.out" &&
        [ "$r2" = "ok cpus-online 2 of 3, running 1" ] && echo "$r1" | grep -q "^ok cpus-online 1 of 3"; then
        ok "cpus-online: HSM starts no more harts than allowed, live ($(grep '^sbi-hsm' "$tmp/hsm.out"))"
    else
        bad "cpus-online: exit $rc, replies '$r2' '$r1'"
        tail -5 "$tmp/hsm.out"
    fi
    r=$(timeout 20 "$VMON" run --kernel "$tmp/hsmlimit.elf" --cpus 2 --cpus-online 3 2>&1)
    [ $? != 0 ] && echo "$r" | grep -q "cpus-online 3 is more than the 2 vCPUs" &&
        ok "--cpus-online above --cpus is refused" || bad "--cpus-online 3 of 2: $r"
else
    bad "build hsmlimit"
fi
report sbi
