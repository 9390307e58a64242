#!/bin/bash
# Boot the demo guest to poweroff again and again and count the runs that
# fail: a nonzero exit, or a guest that reports a crash (a segfault, a
# killed init, an oops). For rare, timing-dependent faults that one boot
# will not show. Failing consoles are kept as boot-loop.N.log.
#
#     scripts/boot-loop.sh [RUNS] [CPUS] [VMON]     (default 100, 1, build/vmon)
set -u
runs=${1:-100}
cpus=${2:-1}
vmon=${3:-build/vmon}
. "$(dirname "$0")/../tests/integration/guest.sh" # KERNEL, INITRD
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bad=0
for i in $(seq "$runs"); do
    timeout 60 "$vmon" run --kernel "$KERNEL" --initrd "$INITRD" --mem 256M --cpus "$cpus" \
        --append "console=ttyS0 guest.exit" </dev/null >"$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || grep -qE 'Segmentation fault|Attempted to kill init|Oops|BUG:' "$out"; then
        bad=$((bad + 1))
        cp "$out" "boot-loop.$i.log"
        echo "run $i: exit $rc (console in boot-loop.$i.log)"
    fi
done
echo "boot-loop: $bad of $runs runs failed ($cpus vCPUs)"
[ $bad -eq 0 ]
