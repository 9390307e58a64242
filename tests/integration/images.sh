#!/bin/bash
# Disk images from other tools: formats vmon does not read are refused by
# their magic with a message naming the format and the conversion command
# (never taken for raw), format=raw forces raw, and the image locks
# interoperate with QEMU's, so a QEMU and a vmon never both use one image
# for writing, whichever starts first. Refused images stay unchanged.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
qpid=
trap '[ -n "$qpid" ] && kill $qpid 2>/dev/null; rm -rf "$tmp"' EXIT
VMON=${VMON:-build/vmon}
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # KERNEL, INITRD
PROG=$BUILD/isa/rv64i.elf

refused() { # name, disk spec, pattern
    local before after
    before=$(md5sum <"${2%%,*}")
    timeout 30 "$VMON" run --bios "$PROG" --disk "$2" </dev/null >"$tmp/out" 2>&1
    local rc=$?
    after=$(md5sum <"${2%%,*}")
    if [ $rc -eq 1 ] && grep -qE -- "$3" "$tmp/out" && [ "$before" = "$after" ]; then
        ok "$1: refused, image unchanged"
    else
        bad "$1: exit status $rc, want 1 and /$3/"
    fi
}

for f in vmdk vdi vhdx vpc qed; do
    qemu-img create -q -f $f "$tmp/d.$f" 16M
done
qemu-img create -q -f vpc -o subformat=fixed "$tmp/fixed.vhd" 16M
refused "VMDK" "$tmp/d.vmdk" "VMDK image.*qemu-img convert -f vmdk"
refused "VDI" "$tmp/d.vdi" "VDI .*qemu-img convert -f vdi"
refused "VHDX" "$tmp/d.vhdx" "VHDX image.*qemu-img convert"
refused "VHD (dynamic)" "$tmp/d.vpc" "VHD \(dynamic\).*-f vpc"
refused "VHD (fixed, footer at the end)" "$tmp/fixed.vhd" "VHD \(fixed\).*-f vpc"
refused "QED" "$tmp/d.qed" "QED image"
qemu-img create -q -f luks --object secret,id=s0,data=pw -o key-secret=s0 "$tmp/d.luks" 16M &&
    refused "LUKS" "$tmp/d.luks" "LUKS"
head -c 1M /dev/zero >"$tmp/raw.img"
gzip -c "$tmp/raw.img" >"$tmp/raw.img.gz"
refused "gzip-compressed image" "$tmp/raw.img.gz" "gzip-compressed.*gunzip"
xz -c "$tmp/raw.img" >"$tmp/raw.img.xz"
refused "xz-compressed image" "$tmp/raw.img.xz" "xz-compressed"
"$VMON" img info "$tmp/d.vmdk" >"$tmp/out" 2>&1
if [ $? -eq 1 ] && grep -q "VMDK" "$tmp/out"; then
    ok "img info names the VMDK format"
else
    bad "img info on a VMDK"
fi
# format=raw: the bytes as they are, by the user's choice.
if timeout 30 "$VMON" run --bios "$PROG" --disk "$tmp/d.vmdk,format=raw,ro" </dev/null \
    >"$tmp/out" 2>&1; then
    ok "format=raw forces raw"
else
    bad "format=raw on a VMDK file"
fi

# Locks against QEMU, both orders.
qemu-img create -q -f raw "$tmp/shared.img" 16M
qemu-system-riscv64 -M virt -display none -serial none -monitor none -bios none \
    -drive file="$tmp/shared.img",format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0 \
    </dev/null >/dev/null 2>&1 &
qpid=$!
ino=$(stat -c %i "$tmp/shared.img")
for _ in $(seq 100); do # until QEMU holds its OFD locks on the image
    grep -q "OFDLCK.*:$ino " /proc/locks && break
    sleep 0.1
done
refused "QEMU writes it: vmon read-write" "$tmp/shared.img" "in use by another program"
refused "QEMU writes it: vmon read-only" "$tmp/shared.img,ro" "in use by another program"
kill $qpid
wait $qpid 2>/dev/null
qpid=
timeout 60 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --console none --timeout 15 \
    --disk "$tmp/shared.img" </dev/null >/dev/null 2>&1 &
vpid=$!
sleep 2
timeout 10 qemu-system-riscv64 -M virt -display none -serial none -monitor none -bios none \
    -drive file="$tmp/shared.img",format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0 \
    </dev/null >"$tmp/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'Failed to get "write" lock' "$tmp/out"; then
    ok "vmon writes it: QEMU is refused (Failed to get \"write\" lock)"
else
    bad "vmon writes it: QEMU exit status $rc"
fi
kill $vpid 2>/dev/null
wait $vpid 2>/dev/null
if timeout 30 "$VMON" run --bios "$PROG" --disk "$tmp/shared.img" </dev/null >"$tmp/out" 2>&1; then
    ok "the image is free again once both have exited"
else
    bad "image still locked after both exited"
fi

report images
