#!/bin/bash
# CPU benchmark: run bench/cpu.c (bare-metal) on vmon and on
# qemu-system-riscv64 in the same run; print instructions per second for
# each kernel, with and without Sv39 paging, and the vmon/QEMU ratio.
# The instruction count comes from vmon's exact minstret (the program is
# deterministic, so QEMU retires the same instructions); time comes from each
# machine's mtime (10 MHz, host clock). Checksums must agree.
# With NATIVE (bench/native.c built for the host), the same kernels' host
# speed too: those instructions per second of host time ("host MIPS"), the
# ceiling a translator could reach, vmon's share of it, and that ceiling as a
# ratio to QEMU (the best vmon/QEMU ratio a translator as fast as the host's
# own compiled code would show).
set -u
vmon=${1:?usage: cpu.sh VMON ELF [NATIVE]}
elf=${2:?usage: cpu.sh VMON ELF [NATIVE]}
native=${3:-}
runs=${BENCH_RUNS:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for i in $(seq "$runs"); do
    "$vmon" run --bios "$elf" --timeout 300 --console "$out/vmon.$i" >/dev/null 2>&1 || {
        echo "bench: vmon run failed (exit $?)"; tr -d '\r' <"$out/vmon.$i"; exit 1; }
    timeout 300 qemu-system-riscv64 -M virt -m 256M -bios none -nographic -kernel "$elf" \
        </dev/null >"$out/qemu.$i" 2>&1 || { echo "bench: qemu run failed"; exit 1; }
done
: >"$out/native"
if [ -n "$native" ]; then
    "$native" >"$out/native" || { echo "bench: $native failed"; exit 1; }
fi

# Best (lowest) tick count of the runs for every kernel, per machine.
awk -v runs="$runs" -v dir="$out" '
function parse(file, who,    line, f, n, key, i, kv) {
    while ((getline line < file) > 0) {
        gsub(/\r/, "", line)
        if (line !~ /^bench /) continue
        n = split(line, f, " ")
        key = f[2] " " f[3]
        if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
        for (i = 4; i <= n; i++) {
            split(f[i], kv, "=")
            if (kv[1] == "sum") {
                if ((who, key) in sum && sum[who, key] != kv[2]) bad = 1
                sum[who, key] = kv[2]
            }
            if (kv[1] == "insns" && who == "vmon") insns[key] = kv[2]
            if (kv[1] == "ticks" && (!((who, key) in ticks) || kv[2] < ticks[who, key])) ticks[who, key] = kv[2]
        }
    }
    close(file)
}
BEGIN {
    for (r = 1; r <= runs; r++) { parse(dir "/vmon." r, "vmon"); parse(dir "/qemu." r, "qemu") }
    while ((getline line < (dir "/native")) > 0) { # native KERNEL sum=S ns=N
        n = split(line, f, " ")
        split(f[3], kv, "="); nsum[f[2]] = kv[2]
        split(f[4], kv, "="); nns[f[2]] = kv[2]
    }
    printf "%-16s %14s %12s %12s %8s", "kernel", "instructions", "vmon MIPS", "QEMU MIPS", "ratio"
    if (length(nns)) printf " %10s %10s %10s", "host MIPS", "vmon/host", "host/QEMU"
    printf "\n"
    for (k = 1; k <= nk; k++) {
        key = order[k]
        if (sum["vmon", key] != sum["qemu", key]) { printf "bench: checksum mismatch in %s\n", key; bad = 1 }
        tv = ticks["vmon", key] / 1e7; tq = ticks["qemu", key] / 1e7
        mv = insns[key] / tv / 1e6; mq = insns[key] / tq / 1e6
        printf "%-16s %14d %12.1f %12.1f %8.2f", key, insns[key], mv, mq, mv / mq
        split(key, m, " ")
        if (m[2] in nns) {
            if (nsum[m[2]] != sum["vmon", key]) { printf "\nbench: native checksum differs in %s\n", key; bad = 1 }
            mn = insns[key] / (nns[m[2]] / 1e9) / 1e6
            printf " %10.1f %10.2f %10.2f", mn, mv / mn, mn / mq
        }
        printf "\n"
        ti[m[1]] += insns[key]; sv[m[1]] += tv; sq[m[1]] += tq
        ti["all"] += insns[key]; sv["all"] += tv; sq["all"] += tq
    }
    split("bare sv39 all", ms, " ")
    for (i = 1; i <= 3; i++) {
        x = ms[i]; mv = ti[x] / sv[x] / 1e6; mq = ti[x] / sq[x] / 1e6
        printf "%-16s %14d %12.1f %12.1f %8.2f\n", "total " x, ti[x], mv, mq, mv / mq
    }
    printf "bench-cpu: vmon/QEMU instructions per second = %.2f\n", (ti["all"] / sv["all"]) / (ti["all"] / sq["all"])
    exit bad
}'
