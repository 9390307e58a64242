#!/bin/bash
# Both engines give the same guest: the demo guest on 1, 2 and 4 vCPUs and
# under OpenSBI with --engine interp (the reference) and --engine jit (the
# default) prints the same results, and a CPU-bound shell computation gives
# the same number; --stats shows the translator at work. (The ISA suite runs
# with each engine in run_all.sh.)
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD
work='i=0;s=0;while+[+$i+-lt+3000+];+do+s=$(((s*31-(0-i))%1000003));i=$((i-(-1)));done;echo+result=$s'
for eng in interp jit; do
    for cpus in 1 2 4; do
        timeout 300 "$VMON" run --engine $eng --cpus $cpus --kernel "$KERNEL" --initrd "$INITRD" \
            --timeout 240 --stats --append "console=ttyS0 guest.run=$work" </dev/null >"$tmp/out" 2>&1
        rc=$?
        r=$(tr -d '\r' <"$tmp/out" | grep -oE '^result=[0-9]+')
        echo "$r" >"$tmp/$eng.$cpus"
        if [ $rc -eq 0 ] && [ -n "$r" ] && grep -q "guest: exit status 0" "$tmp/out"; then
            ok "--engine $eng, $cpus vCPU(s): booted and computed ($r)"
        else
            bad "--engine $eng, $cpus vCPU(s): status $rc"
        fi
        if [ $eng = jit ]; then
            grep -qE "^hart0: jit blocks [1-9]" "$tmp/out" && ok "--engine jit, $cpus vCPU(s): blocks were translated" ||
                bad "--engine jit: no translated blocks in --stats"
        else
            grep -q "jit blocks" "$tmp/out" && bad "--engine interp translated code" || ok "--engine interp: no translator"
        fi
    done
done
want=$(python3 -c 's=0
for i in range(3000): s=(s*31+i)%1000003
print("result=%d" % s)')
cmp -s "$tmp/interp.1" "$tmp/jit.1" && cmp -s "$tmp/interp.2" "$tmp/jit.2" &&
    cmp -s "$tmp/interp.4" "$tmp/jit.4" &&
    [ "$(cat "$tmp/jit.1")" = "$want" ] &&
    ok "both engines computed the right result ($want)" || bad "the engines disagree (want $want)"
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf
for eng in interp jit; do
    timeout 300 "$VMON" run --engine $eng --bios "$FW" --cpus 2 --kernel "$KERNEL" --initrd "$INITRD" \
        --timeout 240 --append "console=ttyS0 guest.run=$work" </dev/null >"$tmp/out" 2>&1
    [ $? -eq 0 ] && grep -q "$(cat "$tmp/interp.1")" "$tmp/out" && ok "OpenSBI, --engine $eng: same result" ||
        bad "OpenSBI, --engine $eng"
done
"$VMON" run --engine turbo --bios x </dev/null >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "invalid --engine" "$tmp/out" && ok "--engine with a bad value is a usage error" ||
    bad "--engine turbo"
report engines
