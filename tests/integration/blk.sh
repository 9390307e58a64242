#!/bin/bash
# virtio-blk end to end with the demo guest:
#  - raw: an ext4 image made on the host (mke2fs -d) is mounted in the
#    guest, a host file is read and a guest file written, then read back on
#    the host with debugfs after vmon exits; e2fsck finds it clean; serial=,
#    the write-back cache (flush) and fstrim (discard) as the guest sees them;
#  - more disks (vdb: a qcow2 image made by qemu-img, vdc: raw): the guest
#    reads them, writes a sector, zeroes ranges (fallocate ZERO_RANGE and
#    PUNCH_HOLE on the block device = WRITE_ZEROES without and with unmap,
#    using a tiny static guest tool when a RISC-V compiler is around) and
#    discards one (blkdiscard); the host checks every byte afterwards;
#  - qcow2 overlay (vmon img create -b) over a read-only base: guest writes
#    land in the overlay, the base is unchanged, `qemu-img check` is clean,
#    the overlay reads back on the host (qemu-img convert + debugfs) and in
#    a second boot;
#  - ,ro: the guest sees a read-only disk, writes fail, the file is unchanged;
#  - vmon img create/info;
#  - bad input (broken images, options, sizes): clear message, nonzero exit
#    before the guest runs, the user's files unchanged.
set -u
VMON=${VMON:-build/vmon}
VMON=$(cd "$(dirname "$VMON")" && pwd)/$(basename "$VMON")
RISCV_CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD
tmp=$(mktemp -d)
trap 'chmod -R u+rwX "$tmp" 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && grep -v '^\[' "$2" | tail -20 | sed 's/^/    /'
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# The value a guest printed as "key=value" (last one wins).
gval() { sed -n "s/^$2=//p" "$1" | tr -d '\r' | tail -1; }

for tool in mke2fs debugfs e2fsck qemu-img python3; do
    if ! command -v $tool >/dev/null; then
        echo "blk: 0 passed, 1 failed"
        echo "missing host tool $tool (scripts/setup.sh installs it)"
        exit 1
    fi
done

# boot OUT CMD disk-specs...: run the guest with CMD (spaces as +).
boot() {
    local out=$1 cmd=$2
    shift 2
    local args=()
    for d in "$@"; do args+=(--disk "$d"); done
    timeout 100 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 90 --console "$out" \
        "${args[@]}" --append "console=ttyS0 guest.run=$cmd" </dev/null >"$out.err" 2>&1
}

# ---- the guest tool: fallocate(ZERO_RANGE | PUNCH_HOLE) on a block device ----
# Freestanding (raw Linux system calls), so any riscv64 ELF compiler does.
cat >"$tmp/zr.c" <<'EOF'
static long sys(long n, long a, long b, long c, long d)
{
    register long a0 __asm__("a0") = a, a1 __asm__("a1") = b, a2 __asm__("a2") = c;
    register long a3 __asm__("a3") = d, a7 __asm__("a7") = n;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
    return a0;
}
static long num(const char *s)
{
    long v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}
/* zr DEV z|p OFFSET LENGTH: z = FALLOC_FL_ZERO_RANGE, p = FALLOC_FL_PUNCH_HOLE */
void cmain(long *sp)
{
    char **argv = (char **)(sp + 1);
    long r = -22;
    if (sp[0] == 5) {
        long fd = sys(56, -100, (long)argv[1], 2, 0); /* openat(O_RDWR) */
        long mode = argv[2][0] == 'z' ? 0x10 | 1 : 0x02 | 1;
        r = fd < 0 ? fd : sys(47, fd, mode, num(argv[3]), num(argv[4])); /* fallocate */
    }
    sys(64, 1, (long)(r == 0 ? "zr-ok\n" : "zr-error\n"), r == 0 ? 6 : 9, 0);
    sys(93, r == 0 ? 0 : 1, 0, 0, 0);
}
__asm__(".globl _start\n_start:\n mv a0, sp\n call cmain\n");
EOF
have_zr=0
if command -v "$RISCV_CC" >/dev/null &&
    "$RISCV_CC" -march=rv64gc -mabi=lp64d -mcmodel=medany -msmall-data-limit=0 -O2 -static \
        -nostdlib -ffreestanding -fno-pic -o "$tmp/zr" "$tmp/zr.c" 2>"$tmp/zr.err"; then
    have_zr=1
else
    echo "SKIP write-zeroes: cannot build the guest tool with $RISCV_CC"
fi

# ---- the host file system image ----
mkdir -p "$tmp/root"
echo "hello from the host" >"$tmp/root/hello.txt"
head -c 300000 /dev/urandom >"$tmp/root/host.bin"
[ $have_zr = 1 ] && cp "$tmp/zr" "$tmp/root/zr"
# guest side of the raw test: runs from the disk itself
cat >"$tmp/root/raw.sh" <<'EOF'
echo "read=$(cat /m/hello.txt)"
echo "hostbin=$(sha256sum /m/host.bin | cut -d' ' -f1)"
echo "serial=$(cat /sys/block/vda/serial)"
echo "wcache=$(cat /sys/block/vda/queue/write_cache)"
echo "ro=$(cat /sys/block/vda/ro)"
echo "written by the guest" >/m/guest.txt
dd if=/dev/urandom of=/m/big.bin bs=4096 count=300 2>/dev/null
echo "big=$(sha256sum /m/big.bin | cut -d' ' -f1)"
dd if=/dev/urandom of=/m/tmp.bin bs=65536 count=64 2>/dev/null
sync && echo sync-ok
rm /m/tmp.bin && sync
fstrim /m && echo fstrim-ok
for d in vdb vdc; do
    echo "$d-sum=$(dd if=/dev/$d bs=65536 count=64 2>/dev/null | sha256sum | cut -d' ' -f1)"
    printf 'written-to-%s' $d | dd of=/dev/$d bs=512 seek=8 conv=sync,notrunc oflag=direct 2>/dev/null &&
        echo "$d-write-ok"
    blkdiscard -o 1048576 -l 524288 /dev/$d && echo "$d-discard-ok"
    if [ -x /m/zr ]; then
        /m/zr /dev/$d z 2097152 524288 && /m/zr /dev/$d p 3145728 524288 && echo "$d-zero-ok"
    fi
    sync
done
umount /m && echo umount-ok
EOF
cat >"$tmp/root/ov.sh" <<'EOF'
echo "read=$(cat /m/hello.txt)"
echo "hostbin=$(sha256sum /m/host.bin | cut -d' ' -f1)"
echo "overlay write" >/m/ov.txt
dd if=/dev/urandom of=/m/ovbig.bin bs=4096 count=500 2>/dev/null
echo "ovbig=$(sha256sum /m/ovbig.bin | cut -d' ' -f1)"
dd if=/dev/urandom of=/m/tmp.bin bs=65536 count=64 2>/dev/null
sync && echo sync-ok
rm /m/tmp.bin && sync
fstrim /m && echo fstrim-ok
rm /m/host.bin && sync
umount /m && echo umount-ok
EOF
cat >"$tmp/root/again.sh" <<'EOF'
echo "again-ov=$(cat /m/ov.txt)"
echo "again-ovbig=$(sha256sum /m/ovbig.bin | cut -d' ' -f1)"
[ -e /m/host.bin ] && echo "again-hostbin=present" || echo "again-hostbin=gone"
EOF
cat >"$tmp/root/ro.sh" <<'EOF'
echo "ro=$(cat /sys/block/vda/ro)"
echo "read=$(cat /m/hello.txt)"
echo x >/m/new.txt 2>/dev/null && echo "fs-write=succeeded" || echo "fs-write=failed"
dd if=/dev/zero of=/dev/vda bs=512 count=1 oflag=direct 2>/dev/null && echo "dev-write=succeeded" || echo "dev-write=failed"
EOF
if ! mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 -d "$tmp/root" \
    "$tmp/base.img" 32M >"$tmp/mkfs.log" 2>&1; then
    bad "mke2fs -d failed" "$tmp/mkfs.log"
    echo "blk: $pass passed, $fail failed"
    exit 1
fi
hostbin_sum=$(sha "$tmp/root/host.bin")

# ---- 1. raw image, plus a qcow2 (made by qemu-img) and a raw data disk ----
cp --sparse=always "$tmp/base.img" "$tmp/raw.img"
head -c $((4 << 20)) /dev/urandom >"$tmp/pattern"
qemu-img convert -f raw -O qcow2 "$tmp/pattern" "$tmp/vdb.qcow2"
cp "$tmp/pattern" "$tmp/vdc.img"
blocks_before=$(stat -c %b "$tmp/raw.img")
boot "$tmp/out1" "mkdir+/m;mount+/dev/vda+/m&&cp+/m/raw.sh+/tmp/s&&sh+/tmp/s" "$tmp/raw.img,serial=vmon-blk-serial" \
    "$tmp/vdb.qcow2,format=qcow2" "$tmp/vdc.img,format=raw"
rc=$?
out="$tmp/out1"
if [ $rc -eq 0 ] && [ "$(gval "$out" read)" = "hello from the host" ] &&
    [ "$(gval "$out" hostbin)" = "$hostbin_sum" ]; then
    ok "raw: guest mounted the host-made ext4 image and read its files"
else
    bad "raw: guest read (exit $rc)" "$out"
    sed 's/^/    /' "$out.err" | head -5
fi
if [ "$(gval "$out" serial)" = vmon-blk-serial ]; then
    ok "raw: serial= shows in /sys/block/vda/serial"
else
    bad "raw: serial is '$(gval "$out" serial)'" "$out"
fi
if [ "$(gval "$out" wcache)" = "write back" ] && [ "$(gval "$out" ro)" = 0 ] &&
    grep -q "^sync-ok" "$out"; then
    ok "raw: write-back cache with flush, writable, sync succeeded"
else
    bad "raw: write_cache '$(gval "$out" wcache)' ro '$(gval "$out" ro)'" "$out"
fi
got=$(debugfs -R 'cat /guest.txt' "$tmp/raw.img" 2>/dev/null)
debugfs -R "dump /big.bin $tmp/big.host" "$tmp/raw.img" >/dev/null 2>&1
if [ "$got" = "written by the guest" ] && grep -q "^umount-ok" "$out" && [ -f "$tmp/big.host" ] &&
    [ "$(sha "$tmp/big.host")" = "$(gval "$out" big)" ]; then
    ok "raw: files the guest wrote read back on the host (debugfs)"
else
    bad "raw: host read back '$got'" "$out"
fi
if e2fsck -fn "$tmp/raw.img" >"$tmp/fsck.log" 2>&1; then
    ok "raw: e2fsck finds the file system clean after the guest"
else
    bad "raw: e2fsck" "$tmp/fsck.log"
fi
# 4 MiB written, deleted and trimmed must not stay allocated in the file.
blocks_after=$(stat -c %b "$tmp/raw.img")
grown=$(((blocks_after - blocks_before) * 512))
if grep -q "^fstrim-ok" "$out" && [ $grown -lt $((3 << 20)) ]; then
    ok "raw: fstrim in the guest punched the freed space out of the file (grew $grown bytes)"
else
    bad "raw: fstrim: file grew $grown bytes" "$out"
fi
# every byte of vdb (qcow2) and vdc (raw)
pat_sum=$(sha "$tmp/pattern")
qemu-img convert -f qcow2 -O raw "$tmp/vdb.qcow2" "$tmp/vdb.raw" 2>"$tmp/conv.err"
for d in vdb vdc; do
    img="$tmp/$d.img"
    [ $d = vdb ] && img="$tmp/vdb.raw"
    if [ "$(gval "$out" $d-sum)" = "$pat_sum" ]; then
        ok "$d: guest read the whole disk, checksum matches the host's"
    else
        bad "$d: guest checksum '$(gval "$out" $d-sum)'" "$out"
    fi
    zr=""
    [ $have_zr = 1 ] && zr=1
    res=$(python3 - "$tmp/pattern" "$img" "$d" "$zr" <<'EOF'
import sys
want = bytearray(open(sys.argv[1], "rb").read())
got = open(sys.argv[2], "rb").read()
tag = ("written-to-" + sys.argv[3]).encode()
want[4096:4608] = tag + bytes(512 - len(tag))
want[1 << 20:(1 << 20) + (512 << 10)] = bytes(512 << 10)      # discarded
if sys.argv[4]:
    want[2 << 20:(2 << 20) + (512 << 10)] = bytes(512 << 10)  # zero range
    want[3 << 20:(3 << 20) + (512 << 10)] = bytes(512 << 10)  # punch hole
if len(got) != len(want):
    print("size", len(got))
elif got != want:
    i = next(i for i in range(len(got)) if got[i] != want[i])
    print("differs at", i)
else:
    print("same")
EOF
)
    if [ "$res" = same ] && grep -q "^$d-write-ok" "$out" && grep -q "^$d-discard-ok" "$out" &&
        { [ $have_zr = 0 ] || grep -q "^$d-zero-ok" "$out"; }; then
        if [ $have_zr = 1 ]; then
            ok "$d: sector write, discard and write-zeroes (with and without unmap) as expected on the host"
        else
            ok "$d: sector write and discard as expected on the host"
        fi
    else
        bad "$d: host content after the guest: $res" "$out"
    fi
done
if qemu-img check "$tmp/vdb.qcow2" >"$tmp/check.log" 2>&1; then
    ok "vdb: qemu-img check is clean after vmon wrote the qemu-made qcow2"
else
    bad "vdb: qemu-img check" "$tmp/check.log"
fi

# ---- 2. qcow2 overlay over a read-only base ----
chmod 0444 "$tmp/base.img"
base_sum=$(sha "$tmp/base.img")
(cd "$tmp" && "$VMON" img create -b base.img ov.qcow2 >"$tmp/create.log" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "fmt=qcow2" "$tmp/create.log"; then
    ok "img create -b: $(head -1 "$tmp/create.log")"
else
    bad "img create -b: exit $rc" "$tmp/create.log"
fi
"$VMON" img info "$tmp/ov.qcow2" >"$tmp/info.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "^file format: qcow2" "$tmp/info.log" &&
    grep -q "^virtual size: .*(33554432 bytes)" "$tmp/info.log" &&
    grep -q "^backing file: base.img (actual path: $tmp/base.img)" "$tmp/info.log" &&
    grep -q "^backing file format: raw" "$tmp/info.log"; then
    ok "img info: qcow2 with backing file"
else
    bad "img info: exit $rc" "$tmp/info.log"
fi
boot "$tmp/out2" "mkdir+/m;mount+/dev/vda+/m&&cp+/m/ov.sh+/tmp/s&&sh+/tmp/s" "$tmp/ov.qcow2"
rc=$?
out="$tmp/out2"
if [ $rc -eq 0 ] && [ "$(gval "$out" read)" = "hello from the host" ] &&
    [ "$(gval "$out" hostbin)" = "$hostbin_sum" ] && grep -q "^umount-ok" "$out"; then
    ok "overlay: guest read the base through the overlay and wrote files"
else
    bad "overlay: exit $rc" "$out"
    sed 's/^/    /' "$out.err" | head -5
fi
if [ "$(sha "$tmp/base.img")" = "$base_sum" ]; then
    ok "overlay: base image unchanged"
else
    bad "overlay: the base image changed"
fi
if qemu-img check "$tmp/ov.qcow2" >"$tmp/check.log" 2>&1; then
    ok "overlay: qemu-img check is clean"
else
    bad "overlay: qemu-img check" "$tmp/check.log"
fi
"$VMON" img info "$tmp/ov.qcow2" >"$tmp/info2.log" 2>&1
alloc=$(sed -nE 's/^allocated: .*\(([0-9]+) bytes in this image\)/\1/p' "$tmp/info2.log")
if grep -q "^fstrim-ok" "$out" && [ -n "$alloc" ] && [ "$alloc" -lt $((4 << 20)) ]; then
    ok "overlay: fstrim released the trimmed clusters ($alloc bytes allocated)"
else
    bad "overlay: ${alloc:-?} bytes allocated after fstrim" "$tmp/info2.log"
fi
qemu-img convert -f qcow2 -O raw "$tmp/ov.qcow2" "$tmp/ov.raw" 2>"$tmp/conv.err"
got=$(debugfs -R 'cat /ov.txt' "$tmp/ov.raw" 2>/dev/null)
debugfs -R "dump /ovbig.bin $tmp/ovbig.host" "$tmp/ov.raw" >/dev/null 2>&1
if [ "$got" = "overlay write" ] && [ -f "$tmp/ovbig.host" ] &&
    [ "$(sha "$tmp/ovbig.host")" = "$(gval "$out" ovbig)" ] &&
    e2fsck -fn "$tmp/ov.raw" >"$tmp/fsck.log" 2>&1; then
    ok "overlay: qemu-img convert of the overlay has the guest's files, e2fsck clean"
else
    bad "overlay: converted image has '$got'" "$tmp/fsck.log"
fi
boot "$tmp/out3" "mkdir+/m;mount+-o+ro+/dev/vda+/m&&sh+/m/again.sh" "$tmp/ov.qcow2,ro"
out="$tmp/out3"
if [ "$(gval "$out" again-ov)" = "overlay write" ] &&
    [ "$(gval "$out" again-ovbig)" = "$(gval "$tmp/out2" ovbig)" ] &&
    [ "$(gval "$out" again-hostbin)" = gone ]; then
    ok "overlay: a second boot (,ro) sees the overlay's content"
else
    bad "overlay: second boot" "$out"
fi

# ---- 3. ,ro ----
cp --sparse=always "$tmp/raw.img" "$tmp/ro.img"
ro_sum=$(sha "$tmp/ro.img")
boot "$tmp/out4" "mkdir+/m;mount+-o+ro+/dev/vda+/m&&sh+/m/ro.sh" "$tmp/ro.img,ro"
out="$tmp/out4"
if [ "$(gval "$out" ro)" = 1 ] && [ "$(gval "$out" read)" = "hello from the host" ] &&
    [ "$(gval "$out" fs-write)" = failed ] && [ "$(gval "$out" dev-write)" = failed ] &&
    [ "$(sha "$tmp/ro.img")" = "$ro_sum" ]; then
    ok "ro: guest sees a read-only disk, its writes fail, the file is unchanged"
else
    bad "ro: ro=$(gval "$out" ro) fs-write=$(gval "$out" fs-write) dev-write=$(gval "$out" dev-write)" "$out"
fi

# ---- 4. img create / info ----
"$VMON" img create "$tmp/new.raw" 8M >"$tmp/c.log" 2>&1 &&
    "$VMON" img info "$tmp/new.raw" >"$tmp/i.log" 2>&1
if [ "$(stat -c %s "$tmp/new.raw" 2>/dev/null)" = 8388608 ] && grep -q "^file format: raw" "$tmp/i.log"; then
    ok "img create/info raw"
else
    bad "img create/info raw" "$tmp/i.log"
fi
"$VMON" img create -f qcow2 "$tmp/new.qcow2" 1G >"$tmp/c.log" 2>&1 &&
    "$VMON" img info "$tmp/new.qcow2" >"$tmp/i.log" 2>&1
if grep -q "^file format: qcow2" "$tmp/i.log" && grep -q "^cluster size: 65536" "$tmp/i.log" &&
    qemu-img check "$tmp/new.qcow2" >/dev/null 2>&1 &&
    qemu-img info "$tmp/new.qcow2" 2>/dev/null | grep -q "virtual size: 1 GiB"; then
    ok "img create/info qcow2 (qemu-img agrees)"
else
    bad "img create/info qcow2" "$tmp/i.log"
fi

# ---- 5. bad input ----
# expect_err NAME PATTERN FILE DISK-SPEC [more vmon options...]: vmon refuses
# before the guest runs, says PATTERN, and FILE (if any) is unchanged.
# $prefix: a command to run vmon under.
prefix=()
expect_err() {
    local name=$1 pat=$2 file=$3 spec=$4
    shift 4
    local before=""
    [ -n "$file" ] && before=$(sha "$file")
    timeout 30 "${prefix[@]}" "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 20 \
        --disk "$spec" "$@" --append "console=ttyS0 guest.exit" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -qiE -- "$pat" "$tmp/bad.err" &&
        ! grep -q "init reached" "$tmp/bad.out" &&
        { [ -z "$file" ] || [ "$(sha "$file")" = "$before" ]; }; then
        ok "bad input $name: $(head -1 "$tmp/bad.err")"
    else
        bad "bad input $name: exit $rc" "$tmp/bad.err"
    fi
}
# expect_img NAME PATTERN vmon-img-args...
expect_img() {
    local name=$1 pat=$2
    shift 2
    timeout 30 "$VMON" img "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -qiE -- "$pat" "$tmp/bad.err"; then
        ok "bad input $name: $(head -1 "$tmp/bad.err")"
    else
        bad "bad input $name: exit $rc" "$tmp/bad.err"
    fi
}
# poke FILE OFFSET HEX: overwrite bytes in place
poke() {
    python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2], 0)); f.write(bytes.fromhex(sys.argv[3]))' "$@"
}
mkq() { "$VMON" img create -f qcow2 "$tmp/$1" 16M >/dev/null; }

expect_err missing "$tmp/nonexistent.img: No such file" "" "$tmp/nonexistent.img"
echo data >"$tmp/secret.img"
truncate -s 1M "$tmp/secret.img"
chmod 0000 "$tmp/secret.img"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 0755 "$tmp"
    prefix=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    expect_err unreadable "secret.img: Permission denied" "" "$tmp/secret.img"
    prefix=()
    chmod 0700 "$tmp"
elif [ "$(id -u)" != 0 ]; then
    expect_err unreadable "secret.img: Permission denied" "" "$tmp/secret.img"
else
    echo "SKIP unreadable: running as root without setpriv"
fi
chmod 0644 "$tmp/secret.img"
expect_err directory "Is a directory|not a regular file" "" "$tmp"
mkq magic.qcow2
poke "$tmp/magic.qcow2" 0 51464900
expect_err bad-magic "not a qcow2 image \(bad magic\)" "$tmp/magic.qcow2" "$tmp/magic.qcow2,format=qcow2"
mkq version.qcow2
poke "$tmp/version.qcow2" 4 00000004
expect_err bad-version "unsupported qcow2 version 4" "$tmp/version.qcow2" "$tmp/version.qcow2"
mkq cbits.qcow2
poke "$tmp/cbits.qcow2" 20 0000001f
expect_err bad-cluster-bits "unsupported cluster size 2\^31" "$tmp/cbits.qcow2" "$tmp/cbits.qcow2"
mkq trunc.qcow2
head -c 60 "$tmp/trunc.qcow2" >"$tmp/trunc2.qcow2"
expect_err truncated-header "truncated qcow2 header" "$tmp/trunc2.qcow2" "$tmp/trunc2.qcow2"
head -c 65536 "$tmp/trunc.qcow2" >"$tmp/trunc3.qcow2"
expect_err truncated-tables "outside the file" "$tmp/trunc3.qcow2" "$tmp/trunc3.qcow2"
mkq hugesize.qcow2
poke "$tmp/hugesize.qcow2" 24 ffffffffffffffff
expect_err size-overflow "virtual size .* too large" "$tmp/hugesize.qcow2" "$tmp/hugesize.qcow2"
mkq bigsize.qcow2
poke "$tmp/bigsize.qcow2" 24 0080000000000000
expect_err absurd-size "L1 table .* too small" "$tmp/bigsize.qcow2" "$tmp/bigsize.qcow2"
mkq l1off.qcow2
poke "$tmp/l1off.qcow2" 40 0000000100000000
expect_err l1-out-of-file "L1 table offset 0x100000000 is outside the file" "$tmp/l1off.qcow2" \
    "$tmp/l1off.qcow2"
mkq l1big.qcow2
poke "$tmp/l1big.qcow2" 36 7fffffff
expect_err l1-absurd "L1 table too large" "$tmp/l1big.qcow2" "$tmp/l1big.qcow2"
mkq rtoff.qcow2
poke "$tmp/rtoff.qcow2" 48 0000010000000000
expect_err refcount-table-out-of-file "refcount table offset .* outside the file" \
    "$tmp/rtoff.qcow2" "$tmp/rtoff.qcow2"
# an L1 entry pointing past the end of the file
mkq l2off.qcow2
l1=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(48); print(int.from_bytes(d[40:48], "big"))' "$tmp/l2off.qcow2")
poke "$tmp/l2off.qcow2" "$l1" 8000000100000000
expect_err l2-out-of-file "L1 entry 0 points outside the image" "$tmp/l2off.qcow2" "$tmp/l2off.qcow2"
# backing file loop a -> b -> a
mkq loop-a.qcow2
(cd "$tmp" && "$VMON" img create -b loop-a.qcow2 loop-b.qcow2 >/dev/null)
qemu-img rebase -u -f qcow2 -b loop-b.qcow2 -F qcow2 "$tmp/loop-a.qcow2"
expect_err backing-loop "backing file loop" "$tmp/loop-a.qcow2" "$tmp/loop-b.qcow2"
mkq missing-backing.qcow2
qemu-img rebase -u -f qcow2 -b nowhere.img -F raw "$tmp/missing-backing.qcow2"
expect_err missing-backing "backing file: .*nowhere.img: No such file" \
    "$tmp/missing-backing.qcow2" "$tmp/missing-backing.qcow2"
# img info still describes an image whose chain is broken, then fails
expect_img info-missing-backing "nowhere.img: No such file" info "$tmp/missing-backing.qcow2"
if grep -q "^backing file: nowhere.img" "$tmp/bad.out" && grep -q "^file format: qcow2" "$tmp/bad.out"; then
    ok "img info describes the image despite its missing backing file"
else
    bad "img info with a missing backing file" "$tmp/bad.out"
fi
expect_img info-backing-loop "backing file loop" info "$tmp/loop-b.qcow2"
cp "$tmp/pattern" "$tmp/user.img"
expect_err unknown-format "unknown format 'vmdk'" "$tmp/user.img" "$tmp/user.img,format=vmdk"
expect_err unknown-key "unknown disk option 'cache=none'" "$tmp/user.img" "$tmp/user.img,cache=none"
expect_err long-serial "serial must be 1 to 20 characters" "$tmp/user.img" \
    "$tmp/user.img,serial=abcdefghijklmnopqrstuvwxyz"
expect_err same-disk-twice "in use" "$tmp/user.img" "$tmp/user.img" --disk "$tmp/user.img"
truncate -s 100 "$tmp/tiny.img"
expect_err tiny-disk "smaller than one 512-byte sector" "$tmp/tiny.img" "$tmp/tiny.img"
expect_img create-bad-size "invalid size '12Q'" create "$tmp/b1.img" 12Q
expect_img create-negative-size "unknown option '-1'|invalid size" create "$tmp/b2.img" -1
expect_img create-unaligned-size "not a multiple of 512" create "$tmp/b3.img" 1000
expect_img create-overflow-size "invalid size" create -f qcow2 "$tmp/b4.img" 99999999999999T
expect_img create-too-large "too large" create -f qcow2 "$tmp/b5.img" 65536T
expect_img create-exists "File exists" create "$tmp/user.img" 1M
expect_img info-bad "not a qcow2 image|unsupported qcow2 version" info "$tmp/version.qcow2"
if [ -e "$tmp/b1.img" ] || [ -e "$tmp/b3.img" ] || [ -e "$tmp/b4.img" ] || [ -e "$tmp/b5.img" ]; then
    bad "bad img create left a file behind"
else
    ok "bad img create leaves no file behind"
fi
[ "$(sha "$tmp/user.img")" = "$pat_sum" ] && ok "create-exists left the file alone" ||
    bad "create-exists changed the file"

echo "blk: $pass passed, $fail failed"
[ $fail -eq 0 ]
