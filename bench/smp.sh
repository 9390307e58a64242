#!/bin/bash
# SMP under load: the demo guest starts four loops of N short processes at
# once (fork, exec, exit: remote TLB fences, IPIs, contended locks, WFI
# wake-ups) on 4 and 8 vCPUs, more than this host's cores; wall-clock time
# on vmon and on qemu-system-riscv64 in one run, best of BENCH_RUNS, and the
# ratio (vmon/QEMU time: below 1 means vmon is faster).
# Usage: bench/smp.sh VMON KERNEL INITRD   (BENCH_SMP_N, default 500)
set -u
vmon=$1 kernel=$2 initrd=$3
n=${BENCH_SMP_N:-500}
runs=${BENCH_RUNS:-1}
load="for+i+in+1+2+3+4;+do+(for+j+in+\$(seq+$n);+do+/bin/true;+done)+&+done;+wait;+echo+load+done"
append="console=ttyS0 guest.run=$load"
best() { # command... -> best wall time in seconds (fails if the load did not finish)
    local b="" t
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" </dev/null 2>&1 | grep -q "load done" || { echo "bench-smp: $1 failed" >&2; exit 1; }
        t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}
printf '%-22s %9s %9s %7s\n' "smp load (4x$n procs)" vmon QEMU ratio
for cpus in 4 8; do
    v=$(best "$vmon" run --kernel "$kernel" --initrd "$initrd" --cpus $cpus --mem 256M \
        --timeout 900 --append "$append")
    q=$(best timeout 900 qemu-system-riscv64 -M virt -nographic -smp $cpus -m 256M \
        -kernel "$kernel" -initrd "$initrd" -append "$append")
    printf '%-22s %8.1fs %8.1fs %7.2f\n' "$cpus vCPUs" "$v" "$q" "$(echo "$v / $q" | bc -l)"
done
