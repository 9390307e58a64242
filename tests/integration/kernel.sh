#!/bin/bash
# Kernel files as users have them: the demo Image gzip-, xz- and
# zstd-compressed and inside an EFI zboot wrapper boots to init; Debian's
# S-mode U-Boot (a raw binary) runs where QEMU's -kernel puts it; truncated
# or corrupt compressed kernels and files that are no kernel are refused
# with a message saying what they are.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # KERNEL, INITRD

boots() { # name, kernel file
    timeout 120 "$VMON" run --kernel "$2" --initrd "$INITRD" --timeout 60 \
        --append "console=ttyS0 guest.exit" </dev/null >"$tmp/out" 2>&1
    local rc=$?
    if [ $rc -eq 0 ] && grep -q "init reached" "$tmp/out"; then
        ok "$1: boots to init"
    else
        bad "$1: exit status $rc"
    fi
}

refused() { # name, pattern, kernel file
    timeout 60 "$VMON" run --kernel "$3" --timeout 20 </dev/null >"$tmp/out" 2>&1
    local rc=$?
    if [ $rc -eq 1 ] && grep -qE -- "$2" "$tmp/out" && ! grep -q "init reached" "$tmp/out"; then
        ok "$1: refused ($(head -c 150 "$tmp/out" | tr '\n' ' '))"
    else
        bad "$1: exit status $rc, want 1 and /$2/"
    fi
}

gzip -9c "$KERNEL" >"$tmp/Image.gz"
xz -T1 -3c "$KERNEL" >"$tmp/Image.xz"
zstd -q -3 -c "$KERNEL" >"$tmp/Image.zst"
boots "Image.gz" "$tmp/Image.gz"
boots "Image.xz" "$tmp/Image.xz"
boots "Image.zst" "$tmp/Image.zst"

# EFI zboot layout: "MZ", "zimg" at 4, payload offset and size at 8 and 12,
# the compression name at 24 (drivers/firmware/efi/libstub/zboot-header.S).
python3 - "$tmp/Image.gz" "$tmp/Image.efi" <<'PY'
import struct, sys
payload = open(sys.argv[1], "rb").read()
hdr = bytearray(512)
hdr[0:2] = b"MZ"
hdr[4:8] = b"zimg"
struct.pack_into("<II", hdr, 8, len(hdr), len(payload))
hdr[24:28] = b"gzip"
open(sys.argv[2], "wb").write(bytes(hdr) + payload)
PY
boots "EFI zboot (gzip payload)" "$tmp/Image.efi"

head -c 3000000 "$tmp/Image.gz" >"$tmp/trunc.gz"
refused "truncated Image.gz" "gzip-compressed kernel: truncated" "$tmp/trunc.gz"
cp "$tmp/Image.xz" "$tmp/corrupt.xz"
printf 'garbage!' | dd of="$tmp/corrupt.xz" bs=1 seek=100000 conv=notrunc 2>/dev/null
refused "corrupt Image.xz" "xz-compressed kernel: corrupt" "$tmp/corrupt.xz"
bzip2 -c /etc/passwd >"$tmp/k.bz2" 2>/dev/null && refused "bzip2 kernel" "bzip2" "$tmp/k.bz2"
refused "an initramfs given as the kernel" "cpio archive" "$INITRD"
"$VMON" img create -f qcow2 "$tmp/d.qcow2" 1M >/dev/null
refused "a qcow2 image given as the kernel" "qcow2 disk image" "$tmp/d.qcow2"
echo "console=ttyS0 root=/dev/vda" >"$tmp/cmdline.txt"
refused "a text file" "text file" "$tmp/cmdline.txt"
: >"$tmp/empty"
refused "an empty file" "empty" "$tmp/empty"

# Debian's u-boot-qemu S-mode U-Boot: a raw binary linked at 0x80200000,
# run on vmon's SBI; with no boot device it stops at its prompt.
UB=/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin
if [ -f "$UB" ]; then
    timeout 60 "$VMON" run --kernel "$UB" --timeout 8 </dev/null >"$tmp/out" 2>&1
    if grep -q "^U-Boot 20" "$tmp/out" && grep -q "DRAM:  256 MiB" "$tmp/out" &&
        grep -q "=>" "$tmp/out"; then
        ok "S-mode U-Boot (raw binary) runs to its prompt"
    else
        bad "S-mode U-Boot did not reach its prompt"
    fi
else
    bad "u-boot-qemu not installed ($UB)"
fi

report kernel
