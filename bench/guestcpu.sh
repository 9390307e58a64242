#!/bin/bash
# A CPU-bound program inside the demo guest (bench/guest_cpu.c, built with
# riscv64-linux-gnu-gcc -O2 -static and added to the demo initramfs as
# /bench/guestcpu): the same guest on vmon and on qemu-system-riscv64 in one
# run; each part's seconds by the guest's clock, best of BENCH_RUNS, and the
# ratio QEMU time / vmon time (above 1: vmon is faster). Checksums must agree.
set -u
vmon=${1:?usage: guestcpu.sh VMON KERNEL INITRD BIN}
kernel=${2:?}
initrd=${3:?}
bin=${4:?}
runs=${BENCH_RUNS:-1}
scale=${BENCH_SCALE_GUEST:-8}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The demo initramfs with one more (concatenated) cpio archive holding the
# program; Linux unpacks them one after the other.
python3 - "$bin" "$out/extra.cpio" <<'PY'
import sys, os
def entry(name, mode, data=b""):
    hdr = "070701" + "".join("%08X" % v for v in (
        0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
    rec = hdr.encode() + name.encode() + b"\0"
    rec += b"\0" * (-len(rec) % 4) + data
    return rec + b"\0" * (-len(rec) % 4)
blob = open(sys.argv[1], "rb").read()
arc = entry("bench", 0o40755) + entry("bench/guestcpu", 0o100755, blob) + entry("TRAILER!!!", 0)
open(sys.argv[2], "wb").write(arc)
PY
gzip -9 <"$out/extra.cpio" >"$out/extra.cpio.gz"
cat "$initrd" "$out/extra.cpio.gz" >"$out/initrd.gz"
append="console=ttyS0 guest.run=/bench/guestcpu+$scale"

for i in $(seq "$runs"); do
    timeout 900 "$vmon" run --kernel "$kernel" --initrd "$out/initrd.gz" --mem 256M \
        --append "$append" --console "$out/vmon.$i" </dev/null >/dev/null 2>&1 ||
        { echo "bench: vmon run failed"; tail -5 "$out/vmon.$i"; exit 1; }
    timeout 900 qemu-system-riscv64 -M virt -m 256M -nographic -kernel "$kernel" \
        -initrd "$out/initrd.gz" -append "$append" </dev/null >"$out/qemu.$i" 2>&1 ||
        { echo "bench: qemu run failed"; tail -5 "$out/qemu.$i"; exit 1; }
done

awk -v runs="$runs" -v dir="$out" '
function parse(file, who,    line, f, n, i, kv, part) {
    while ((getline line < file) > 0) {
        gsub(/\r/, "", line)
        if (line !~ /^guestcpu /) continue
        n = split(line, f, " ")
        part = f[2]
        if (!(part in seen)) { seen[part] = 1; order[++np] = part }
        for (i = 3; i <= n; i++) {
            split(f[i], kv, "=")
            if (kv[1] == "sum") {
                if ((who, part) in sum && sum[who, part] != kv[2]) bad = 1
                sum[who, part] = kv[2]
            }
            if (kv[1] == "seconds" && (!((who, part) in secs) || kv[2] < secs[who, part]))
                secs[who, part] = kv[2]
        }
    }
    close(file)
}
BEGIN {
    for (r = 1; r <= runs; r++) { parse(dir "/vmon." r, "vmon"); parse(dir "/qemu." r, "qemu") }
    if (np == 0) { print "bench: no results"; exit 1 }
    printf "%-10s %12s %12s %8s\n", "part", "vmon s", "QEMU s", "ratio"
    for (p = 1; p <= np; p++) {
        k = order[p]
        if (sum["vmon", k] != sum["qemu", k]) { printf "bench: checksum mismatch in %s\n", k; bad = 1 }
        printf "%-10s %12.3f %12.3f %8.2f\n", k, secs["vmon", k], secs["qemu", k],
            secs["qemu", k] / secs["vmon", k]
    }
    printf "bench-guestcpu: QEMU time / vmon time = %.2f\n", secs["qemu", "total"] / secs["vmon", "total"]
    exit bad
}'
