#!/bin/bash
# Network benchmark: TCP throughput through user networking (libslirp on
# vmon, QEMU's own slirp on qemu-system-riscv64), both directions, with the
# demo guest on each machine in the same run:
#   guest->host: the guest pipes N MB from /dev/zero into busybox nc connected
#                to a host listener on 127.0.0.1 (reached as 10.0.2.2); timed
#                on the host from accept to the last byte;
#   host->guest: the host connects to a hostfwd port and sends N MB to
#                `nc -l` in the guest; timed on the host from connect until
#                the guest closes (it has read everything; dd in the guest
#                also reports the byte count, which must match).
# Prints MB/s (MiB/s) for each and the ratio vmon/QEMU. BENCH_NET_MB sets N
# (default 32), BENCH_RUNS the repetitions (best run counts, default 1).
# Fails only when a transfer breaks, never on timing.
set -u
vmon=${1:?usage: net.sh VMON KERNEL INITRD}
kernel=${2:?usage: net.sh VMON KERNEL INITRD}
initrd=${3:?usage: net.sh VMON KERNEL INITRD}
mb=${BENCH_NET_MB:-32}
runs=${BENCH_RUNS:-1}
here=$(cd "$(dirname "$0")" && pwd)
host="$here/net_host.py"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
bytes=$((mb * 1024 * 1024))

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # pattern, file, seconds, pid
    local n=$(($3 * 5))
    while [ $n -gt 0 ]; do
        grep -qE "$1" "$2" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || { grep -qE "$1" "$2" 2>/dev/null; return; }
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

wait_pid() { # pid, seconds: exit status (killed after the time limit)
    local n=$(($2 * 5))
    while [ $n -gt 0 ] && kill -0 "$1" 2>/dev/null; do
        sleep 0.2
        n=$((n - 1))
    done
    kill "$1" 2>/dev/null
    wait "$1"
}

field() { sed -nE "s/.*$1=([0-9.]+).*/\1/p" "$2" | head -1; }

# run_one MACHINE RUN: one boot measuring both directions; appends
# "MACHINE DIRECTION MBPS" lines to $tmp/results.
run_one() {
    local who=$1 r=$2 d="$tmp/$1.$2"
    mkdir -p "$d"
    python3 "$host" sink "$d/port" "$bytes" >"$d/sink" 2>&1 &
    local spid=$!
    pids+=($spid)
    local n=50
    while [ ! -s "$d/port" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    local tp hp
    tp=$(cat "$d/port" 2>/dev/null)
    hp=$(free_port)
    if [ -z "$tp" ]; then
        echo "bench-net: host listener did not start"
        return 1
    fi
    local cmd="ifconfig+eth0+10.0.2.15+netmask+255.255.255.0+up;route+add+default+gw+10.0.2.2;(nc+-l+-p+5001|dd+of=/dev/null+bs=64k+2>/tmp/rx)&sleep+1;echo+rx-ready;wait;echo+rx-bytes=\$(sed+-n+'s/+bytes.*//p'+/tmp/rx);dd+if=/dev/zero+bs=64k+count=$((mb * 16))+2>/dev/null|nc+10.0.2.2+$tp;echo+tx-done"
    local append="console=ttyS0 guest.run=$cmd"
    if [ "$who" = vmon ]; then
        "$vmon" run --kernel "$kernel" --initrd "$initrd" --mem 256M --timeout 600 \
            --console "$d/con" --net "user,hostfwd=tcp::$hp-:5001" --append "$append" \
            </dev/null >"$d/err" 2>&1 &
    else
        timeout 600 qemu-system-riscv64 -M virt -m 256M -smp 1 -nographic \
            -kernel "$kernel" -initrd "$initrd" -append "$append" \
            -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$hp-:5001" \
            -device virtio-net-device,netdev=n0 </dev/null >"$d/con" 2>"$d/err" &
    fi
    local vpid=$!
    pids+=($vpid)
    if ! wait_for "^rx-ready" "$d/con" 300 "$vpid"; then
        echo "bench-net: $who guest did not get ready"
        tail -n 5 "$d/con" "$d/err"
        return 1
    fi
    python3 "$host" source "$hp" "$bytes" >"$d/source" 2>&1
    wait_pid "$spid" 600 >/dev/null
    wait_pid "$vpid" 120
    local rc=$?
    local rxb hs hb gs gb
    rxb=$(sed -nE 's/.*rx-bytes=([0-9]+).*/\1/p' "$d/con" | head -1)
    hs=$(field seconds "$d/source")
    gs=$(field seconds "$d/sink")
    gb=$(field bytes "$d/sink")
    if [ "$rc" -ne 0 ] || [ "${rxb:-0}" != "$bytes" ] || [ "${gb:-0}" != "$bytes" ] ||
        [ -z "$hs" ] || [ -z "$gs" ]; then
        echo "bench-net: $who run $r broke (exit $rc, guest got ${rxb:-?} of $bytes," \
            "host got ${gb:-?})"
        cat "$d/source" "$d/sink"
        grep -v '^\[' "$d/con" | tail -5
        tail -n 3 "$d/err"
        return 1
    fi
    awk -v w="$who" -v b="$bytes" -v hs="$hs" -v gs="$gs" 'BEGIN {
        printf "%s guest-to-host %.3f\n", w, b / 1048576 / gs
        printf "%s host-to-guest %.3f\n", w, b / 1048576 / hs }' >>"$tmp/results"
}

command -v qemu-system-riscv64 >/dev/null || { echo "bench-net: qemu-system-riscv64 not found"; exit 1; }
for r in $(seq "$runs"); do
    run_one vmon "$r" || exit 1
    run_one qemu "$r" || exit 1
done

awk -v mb="$mb" '
{ k = $1 SUBSEP $2; if (!(k in best) || $3 > best[k]) best[k] = $3 }
END {
    printf "TCP through user networking, %d MiB per direction, 1 vCPU (best of runs)\n", mb
    printf "%-16s %12s %12s %8s\n", "direction", "vmon MB/s", "QEMU MB/s", "ratio"
    n = split("guest-to-host host-to-guest", dirs, " ")
    line = "bench-net: vmon/QEMU throughput"
    for (i = 1; i <= n; i++) {
        v = best["vmon", dirs[i]]; q = best["qemu", dirs[i]]
        printf "%-16s %12.2f %12.2f %8.2f\n", dirs[i], v, q, v / q
        line = line sprintf(" %s=%.2f", dirs[i], v / q)
    }
    print line
}' "$tmp/results"
