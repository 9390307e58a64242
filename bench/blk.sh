#!/bin/bash
# Block benchmark: sequential virtio-blk throughput with the demo guest on
# vmon and on qemu-system-riscv64 (-M virt, virtio-blk-device) in the same
# run, for raw and qcow2 images:
#   read:  dd if=/dev/vdX of=/dev/null bs=1M iflag=direct over a disk of N MiB
#          filled with random data (qcow2: every cluster allocated);
#   write: dd if=/dev/zero of=/dev/vdY bs=1M count=N oflag=direct onto a fresh
#          empty image (raw: a sparse file; qcow2: clusters allocated as the
#          guest writes), with conv=fsync: the final flush is timed too.
# Both machines get identical copies of the images, default caching (the
# host page cache, no O_DIRECT on the host). MB/s (MiB/s) come from the
# guest's dd (bytes / its elapsed time). Prints the figures for each and the
# ratio vmon/QEMU. BENCH_BLK_MB sets N (default 64), BENCH_RUNS the
# repetitions (best run counts, default 1). Fails only when a run breaks,
# never on timing.
set -u
vmon=${1:?usage: blk.sh VMON KERNEL INITRD}
kernel=${2:?usage: blk.sh VMON KERNEL INITRD}
initrd=${3:?usage: blk.sh VMON KERNEL INITRD}
mb=${BENCH_BLK_MB:-64}
runs=${BENCH_RUNS:-1}
tmp=$(mktemp -d)
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$tmp"' EXIT

command -v qemu-system-riscv64 >/dev/null || { echo "bench-blk: qemu-system-riscv64 not found"; exit 1; }
command -v qemu-img >/dev/null || { echo "bench-blk: qemu-img not found"; exit 1; }

# The read disk is N MiB, the write disk N+1 MiB: the guest tells them
# apart by size (QEMU and vmon may probe the devices in different orders).
head -c $((mb << 20)) /dev/urandom >"$tmp/read.raw"
qemu-img convert -f raw -O qcow2 "$tmp/read.raw" "$tmp/read.qcow2"
rd_sectors=$((mb << 11))

# Guest: find the disks, read one, write the other, flush.
cmd="for+d+in+/sys/block/vd*;do+s=\$(cat+\$d/size);n=\${d##*/};[+\$s+=+$rd_sectors+]&&r=\$n;[+\$s+=+$(((mb + 1) << 11))+]&&w=\$n;done;"
cmd+="echo+disks+r=\$r+w=\$w;"
cmd+="echo+rd:+\$(dd+if=/dev/\$r+of=/dev/null+bs=1M+iflag=direct+2>&1|tail+-1);"
cmd+="echo+wr:+\$(dd+if=/dev/zero+of=/dev/\$w+bs=1M+count=$mb+oflag=direct+conv=fsync+2>&1|tail+-1)"

# run_one MACHINE FORMAT RUN: appends "MACHINE FORMAT read|write MBPS" lines.
run_one() {
    local who=$1 fmt=$2 r=$3 d="$tmp/$1.$2.$3"
    mkdir -p "$d"
    cp --sparse=always "$tmp/read.$fmt" "$d/read.$fmt"
    if [ "$fmt" = raw ]; then
        truncate -s $(((mb + 1) << 20)) "$d/write.raw"
    else
        qemu-img create -q -f qcow2 "$d/write.qcow2" $(((mb + 1) << 20))
    fi
    local append="console=ttyS0 quiet guest.run=$cmd"
    if [ "$who" = vmon ]; then
        "$vmon" run --kernel "$kernel" --initrd "$initrd" --mem 256M --timeout 600 \
            --console "$d/con" --disk "$d/read.$fmt,format=$fmt" \
            --disk "$d/write.$fmt,format=$fmt" --append "$append" </dev/null >"$d/err" 2>&1
    else
        timeout 600 qemu-system-riscv64 -M virt -m 256M -smp 1 -nographic -bios default \
            -kernel "$kernel" -initrd "$initrd" -append "$append" \
            -drive "file=$d/read.$fmt,format=$fmt,if=none,id=d0" -device virtio-blk-device,drive=d0 \
            -drive "file=$d/write.$fmt,format=$fmt,if=none,id=d1" -device virtio-blk-device,drive=d1 \
            </dev/null >"$d/con" 2>"$d/err"
    fi
    local rc=$?
    # busybox dd: "N bytes (X) copied, T seconds, R"
    local rb rs wb ws
    rb=$(sed -nE 's/.*rd: ([0-9]+) bytes .* copied, ([0-9.]+) seconds.*/\1/p' "$d/con" | head -1)
    rs=$(sed -nE 's/.*rd: ([0-9]+) bytes .* copied, ([0-9.]+) seconds.*/\2/p' "$d/con" | head -1)
    wb=$(sed -nE 's/.*wr: ([0-9]+) bytes .* copied, ([0-9.]+) seconds.*/\1/p' "$d/con" | head -1)
    ws=$(sed -nE 's/.*wr: ([0-9]+) bytes .* copied, ([0-9.]+) seconds.*/\2/p' "$d/con" | head -1)
    if [ "$rc" -ne 0 ] || [ "${rb:-0}" != $((mb << 20)) ] || [ "${wb:-0}" != $((mb << 20)) ] ||
        [ -z "$rs" ] || [ -z "$ws" ]; then
        echo "bench-blk: $who $fmt run $r broke (exit $rc, read ${rb:-?}, wrote ${wb:-?} bytes)"
        grep -v '^\[' "$d/con" | tail -5
        tail -n 3 "$d/err"
        return 1
    fi
    awk -v w="$who" -v f="$fmt" -v b="$rb" -v rs="$rs" -v ws="$ws" 'BEGIN {
        printf "%s %s read %.3f\n", w, f, b / 1048576 / rs
        printf "%s %s write %.3f\n", w, f, b / 1048576 / ws }' >>"$tmp/results"
    rm -rf "$d"
}

for r in $(seq "$runs"); do
    for fmt in raw qcow2; do
        run_one vmon "$fmt" "$r" || exit 1
        run_one qemu "$fmt" "$r" || exit 1
    done
done

awk -v mb="$mb" '
{ k = $1 SUBSEP $2 SUBSEP $3; if (!(k in best) || $4 > best[k]) best[k] = $4 }
END {
    printf "virtio-blk sequential, bs=1M O_DIRECT in the guest, %d MiB, 1 vCPU (best of runs)\n", mb
    printf "%-14s %12s %12s %8s\n", "test", "vmon MB/s", "QEMU MB/s", "ratio"
    line = "bench-blk: vmon/QEMU throughput"
    nf = split("raw qcow2", fmts, " ")
    nd = split("read write", dirs, " ")
    for (i = 1; i <= nf; i++)
        for (j = 1; j <= nd; j++) {
            v = best["vmon", fmts[i], dirs[j]]; q = best["qemu", fmts[i], dirs[j]]
            name = fmts[i] " " dirs[j]
            printf "%-14s %12.1f %12.1f %8.2f\n", name, v, q, v / q
            line = line sprintf(" %s-%s=%.2f", fmts[i], dirs[j], v / q)
        }
    print line
}' "$tmp/results"
